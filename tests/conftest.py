"""Fixtures shared by the Python 3.11 test suite (knowledge, actions, the running assistant)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from knowledge.embed import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds: the one timeout constant for waiting on servers

ARTICLES = {
    "shipping/shipping-costs.md": """---
id: shipping-costs
title: Shipping costs
category: shipping
tags: [shipping, costs]
updated: 2026-01-10
questions:
  - How much is delivery?
  - Is shipping free?
---
Standard shipping costs $4.95 and is free on orders over $50. Express shipping costs $14.95.

## Express
Express parcels arrive in 1-2 business days.
""",
    "returns/returns-window.md": """---
id: returns-window
title: How long do I have to return an item?
category: returns
tags: [returns, policy]
updated: 2026-02-01
questions:
  - What is your return policy?
  - Can I still send back something I bought last month?
---
You can return unworn items within 30 days of delivery for a full refund.
""",
    "accounts/password-reset.md": """---
id: password-reset
title: Resetting your password
category: accounts
tags: [account, password]
updated: 2026-03-05
---
Click "Forgot password" on the sign-in page and follow the link we e-mail you; it is valid for one hour.
""",
    "privacy/delete-account.md": """---
id: delete-account
title: Deleting your account
category: privacy
tags: [privacy, account]
updated: 2026-03-05
---
You can delete your account under Settings > Privacy. Deletion becomes permanent after 14 days.
""",
}


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real default embedding model (all-MiniLM-L6-v2 from its package)."""
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A tiny knowledge source folder with four Markdown articles."""
    root = tmp_path / "knowledge"
    for name, text in ARTICLES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
