"""POST /console/upload: an agent's photo or file for a reply.

Signed-in agents only, with the session's CSRF token in the `X-CSRF-Token` header (or a
`csrf_token` form field before the file). Answers `{ok: true, attachment: {id, name, type,
size, url}}`; the console then sends `reply {case_id, text?, attachment_id}`. A refused file
answers `{ok: false, error: {code, message}}` (413 too large, 415 not an allowed type)."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session

from frontdesk.console.auth import same_token
from frontdesk.console.keys import DESK
from frontdesk.files.web import FILE_LINKS, FILES, read_upload, refusal_status, store_upload

MESSAGES = {
    "file_too_large": "The file is larger than {limit_mb} MB.",
    "file_type": "Only {types} files can be sent (checked from the file's contents).",
    "file_empty": "The file is empty.",
}


async def upload(request: web.Request) -> web.Response:
    session = await get_session(request)
    agent = session.get("agent")
    if (
        not isinstance(agent, str)
        or not agent
        or not await request.config_dict[DESK].agents.get(agent)
    ):
        raise web.HTTPUnauthorized(text="Please sign in to the console again.")
    files = request.config_dict[FILES]
    upload = await read_upload(request, files.policy.max_bytes)
    token = request.headers.get("X-CSRF-Token") or upload.fields.get("csrf_token")
    if not same_token(session.get("csrf"), token):
        raise web.HTTPForbidden(text="This upload did not come from the console. Reload the page.")
    attachment, refused = await store_upload(files, upload, f"agent:{agent}")
    if refused is not None or attachment is None:
        code = refused.code if refused is not None else "file_empty"
        message = MESSAGES.get(code, "The file was refused.").format(**files.policy.describe())
        error = {"code": code, "message": message}
        return web.json_response({"ok": False, "error": error}, status=refusal_status(code))
    signed = request.config_dict[FILE_LINKS].signed(attachment.public())
    return web.json_response({"ok": True, "attachment": signed})


def add_routes(console: web.Application) -> None:
    console.router.add_post("/upload", upload)
