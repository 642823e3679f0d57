from authorizer.passwords import hash_password, verify_password


def test_hash_is_salted_and_verifies():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("scrypt$")
    assert "correct horse" not in first
    assert verify_password("correct horse", first)
    assert not verify_password("correct horsE", first)


def test_verify_without_a_stored_hash_is_false():
    assert not verify_password("anything", None)
    assert not verify_password("anything", "")


def test_verify_rejects_malformed_hashes():
    for stored in ("plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$!!"):
        assert not verify_password("anything", stored)
