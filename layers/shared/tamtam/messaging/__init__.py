"""Message logic shared by the functions: accepting a send, and sending a claimed one."""
