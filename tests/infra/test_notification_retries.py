"""The notifications function keeps unsent messages at their last receive: the count it knows is the queue's."""

from meetbridge.logic import notices


def test_the_last_receive_notifications_know_is_the_notifications_queues(sam_template):
    queue = sam_template["Resources"]["NotificationsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == notices.NOTIFICATIONS_QUEUE_RECEIVES
