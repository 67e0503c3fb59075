"""Drift detection: when does a live object already hold what we would apply?"""

from kubarr_operator.drift import contains, first_difference


def test_fields_added_by_the_server_are_not_drift():
    desired = {
        "spec": {
            "replicas": 1,
            "template": {"containers": [{"name": "a", "image": "x"}]},
        }
    }
    live = {
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "template": {
                "containers": [
                    {"name": "a", "image": "x", "terminationMessagePath": "/dev/t"}
                ]
            },
        }
    }
    assert contains(desired, live)


def test_a_changed_value_is_drift_and_its_path_is_named():
    desired = {"spec": {"template": {"containers": [{"name": "a", "image": "x:2"}]}}}
    live = {"spec": {"template": {"containers": [{"name": "a", "image": "x:1"}]}}}
    assert not contains(desired, live)
    assert first_difference(desired, live) == ".spec.template.containers"


def test_named_list_items_match_by_name_so_foreign_entries_are_ignored():
    desired = {"env": [{"name": "A", "value": "1"}]}
    assert contains(
        desired, {"env": [{"name": "B", "value": "x"}, {"name": "A", "value": "1"}]}
    )
    assert not contains(desired, {"env": [{"name": "A", "value": "2"}]})
    assert not contains(desired, {"env": []})


def test_plain_lists_must_be_equal():
    assert contains({"args": ["serve"]}, {"args": ["serve"]})
    assert not contains({"args": ["serve"]}, {"args": ["serve", "--debug"]})
    assert not contains({"args": ["serve"]}, {})


def test_a_removed_field_is_drift():
    assert not contains({"a": {"b": 1}}, {"a": {}})
    assert first_difference({"a": {"b": 1}}, {"a": {}}) == ".a.b"
