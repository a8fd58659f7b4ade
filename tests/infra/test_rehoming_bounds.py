"""Re-homing gives a meeting up at its message's last receive: the count it knows is the queue's."""

from meetbridge.logic import rehoming


def test_the_last_receive_re_homing_knows_is_the_meetings_queues(sam_template):
    queue = sam_template["Resources"]["MeetingsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == rehoming.MEETINGS_QUEUE_RECEIVES
