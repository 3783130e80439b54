from tamtam.status import Status, is_forward


def test_given_a_delivered_message_when_a_late_sent_report_arrives_then_it_does_not_move_back():
    assert not is_forward(Status.DELIVERED, Status.SENT)


def test_given_a_final_status_then_nothing_moves_it():
    for final in (Status.DELIVERED, Status.FAILED, Status.EXPIRED, Status.CANCELLED):
        for other in Status:
            assert not is_forward(final, other)


def test_given_a_sent_message_then_delivered_and_failed_are_progress():
    assert is_forward(Status.SENT, Status.DELIVERED)
    assert is_forward(Status.SENT, Status.FAILED)
    assert is_forward(Status.QUEUED, Status.SENT)
    assert not is_forward(Status.SENT, Status.SENT)
