import time

from tamtam.ids import new_id


def test_given_ids_made_over_time_then_they_sort_in_time_order_and_never_repeat():
    first = [new_id("msg") for _ in range(1000)]
    time.sleep(0.002)
    later = new_id("msg")
    assert len(set(first)) == 1000
    assert all(i.startswith("msg_") and len(i) == 30 for i in first)
    assert later > max(first)
