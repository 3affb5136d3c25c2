"""Read-only arrays for frozen objects."""

from __future__ import annotations

from typing import Any

from numpy.typing import NDArray

__all__ = ["frozen"]


def frozen(array: NDArray[Any]) -> NDArray[Any]:
    """A read-only view of ``array`` whose base is read-only too.

    The owner of the data is not handed out, so the write flag of the
    returned array cannot be switched back on (numpy refuses for views of
    read-only bases). The caller passes a private copy.
    """
    array.flags.writeable = False
    view = array.view()
    view.flags.writeable = False
    return view
