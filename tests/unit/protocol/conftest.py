"""What the protocol's tests share: the protocol alone, no AWS, no mocks."""

import pytest

from handler.protocol import ProtocolError


def _code_of(call, *args):
    with pytest.raises(ProtocolError) as raised:
        call(*args)
    return raised.value.code


@pytest.fixture
def code_of():
    """The code of the ProtocolError that `call(*args)` must raise."""
    return _code_of
