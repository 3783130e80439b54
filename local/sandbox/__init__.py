"""The provider sandbox: one HTTP server on 127.0.0.1 speaking the five providers' wire
protocols, with an outbox and fault injection. See `core` for the frame and the control API."""
