"""The registry: 38 topics, 5 milestones, every way a learner names a topic."""

from __future__ import annotations

import pytest

from fdl.curriculum import MILESTONES, MODULES, TOPICS, UnknownTopic, find_topic


def test_38_topics_numbered_in_order_with_unique_slugs():
    assert [t.number for t in TOPICS] == list(range(1, 39))
    assert len({t.slug for t in TOPICS}) == 38
    assert {t.module for t in TOPICS} == set(MODULES)


def test_prerequisites_point_backwards():
    for topic in TOPICS:
        assert all(0 < p < topic.number for p in topic.prerequisites), topic.folder


def test_every_topic_lists_its_exercises():
    for topic in TOPICS:
        assert topic.exercises, topic.folder
        assert len(set(topic.exercise_names)) == len(topic.exercise_names)
        if topic.built:
            assert all(e.functions for e in topic.exercises), f"{topic.folder}: built exercises name their functions"


def test_milestones_belong_to_their_topics():
    assert len(MILESTONES) == 5
    for m in MILESTONES:
        assert next(t for t in TOPICS if t.number == m.topic).milestone == m.key


@pytest.mark.parametrize("name", ["topic3", "topic03", "3", "03", "t03", "t3", "optimizers", "t03_optimizers",
                                  " Optimizers ", 3, "optim"])
def test_every_name_of_topic_3(name):
    assert find_topic(name).number == 3


@pytest.mark.parametrize("name,needle", [("topic39", "there is no topic 39"), ("0", "there is no topic 0"),
                                         ("optimisers", "unknown topic 'optimisers'"), ("", "unknown topic")])
def test_unknown_names_list_the_valid_ones(name, needle):
    with pytest.raises(UnknownTopic) as info:
        find_topic(name)
    assert needle in str(info.value)


def test_unbuilt_topics_are_listed_not_hidden():
    unbuilt = [t for t in TOPICS if not t.built]
    assert unbuilt and all(t.exercises and t.title for t in unbuilt)
