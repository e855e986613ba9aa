"""The reference pointer hashes the scenario asserts with reproduce issue 4's vectors."""

import pytest

from pointers import dynamodb_pointer, pointer_hash, s3_pointer


@pytest.mark.parametrize("elements,expected", [
    (("foo",), "2c26b46b68ffc68ff99b453c1d304134"),
    (("foo", "bar"), "0fc7e25e075c7849f89b9729d1aeada1"),
])
def test_plain_hash(elements, expected):
    assert pointer_hash(*elements) == expected


@pytest.mark.parametrize("key,etag,expected", [
    ("some-key.data", "ab12ef34", "e721375466d4116ab551213fdea08413"),
    ("some-key.data", '"ab12ef34"', "e721375466d4116ab551213fdea08413"),
    ("some-key.你好", "ab12ef34", "d1333a04b9928ab462b5c6cadfa401f4"),
    ("some-key.data", "ab12ef34-5", "2b90dffc37ebc7bc610152c3dc72af9f"),
])
def test_s3_vectors(key, etag, expected):
    assert s3_pointer("some-bucket", key, etag) == expected


@pytest.mark.parametrize("table,keys,expected", [
    ("some-table", {"some-key": {"S": "some-value"}}, "7f1aee721472bcb48701d45c7c7f7821"),
    ("some-table", {"some-key": {"N": "123.456"}}, "434a6dba3997ce4dbbadc98d87a0cc24"),
    ("some-table", {"some-key": {"S": "some-value"}, "other-key": {"N": "123"}},
     "7aa1b80b0e49bd2078a5453399f4dd67"),
    ("unknown-table", {"some-key": {"S": "some-value"}}, "d8840182e4052ee105348b033e0a6810"),
])
def test_dynamodb_vectors(table, keys, expected):
    assert dynamodb_pointer(table, keys) == expected
