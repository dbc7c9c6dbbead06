"""The deployment tests start PM Bot as a separate program (an installed wheel, `pmbot run`,
`pmbot digest`) on the real clock: they keep the real clock in the test process too."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real_clock)
