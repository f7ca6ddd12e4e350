"""An e-mail's attachments over the agent API: a download for whoever may see the conversation, nothing else."""

from __future__ import annotations

from pathlib import Path

from tests.handoff.conftest import OpenService
from tests.handoff.service.mail_relay import CatchingRelay
from tests.handoff.service.test_mail import mail_settings, sample
from tests.handoff.web.test_api import client_of, sign_in


async def test_attachments_download_for_those_who_may_see_the_conversation(open_service: OpenService,
                                                                         relay: CatchingRelay,
                                                                         tmp_path: Path) -> None:
    service = await open_service(**mail_settings(relay, tmp_path))
    assert service.mail is not None
    async with client_of(service) as api:
        supervisor = await sign_in(api, "ada")
        conversation_id = await service.mail.receive(sample("thunderbird_attachments.eml"))
        [message] = [m for m in await service.customers.history(conversation_id or "") if m.sender == "customer"]
        url = (message.payload or {})["links"][1]["url"]
        response = await api.get(url, headers=supervisor)
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"] == 'attachment; filename="invoice-20417.pdf"'
        grace = await sign_in(api, "grace")
        api.cookies.clear()  # the sign-ins' cookies: only the bearer tokens from here
        assert (await api.get(url)).status_code == 401
        assert (await api.get(url, headers=grace)).status_code == 403  # not hers
        assert (await api.get(url.rsplit("/", 1)[0] + "/9-nothing.pdf", headers=supervisor)).status_code == 404
