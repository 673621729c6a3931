"""The images page: Glance's list for the project, upload through the dashboard's streaming
endpoint (what upload.js sends), and delete."""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.models import Project
from apps.images import services
from apps.images.models import Image
from tests.cloud import tiny_qcow2
from tests.conftest import Caller
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.django_db

FORM = {
    "name": "tiny-upload",
    "disk_format": "qcow2",
    "container_format": "bare",
    "visibility": "private",
}


def create(browser: Browser, **fields: str) -> Any:
    """The form's first request, as upload.js sends it (JSON wanted)."""
    token = browser.csrf_from("/images/")
    return browser.post(
        "/images/new/",
        {**FORM, **fields, "csrfmiddlewaretoken": token},
        HTTP_ACCEPT="application/json",
    )


def send(browser: Browser, url: str, data: bytes, *, csrf: bool = True, **extra: Any) -> Any:
    """The second request: the file as the raw body, the token in the header."""
    if csrf:
        extra["HTTP_X_CSRFTOKEN"] = browser.csrf_from("/images/")
    extra.setdefault("content_type", "application/octet-stream")
    return browser.post(url, data=data, HTTP_ACCEPT="application/json", **extra)


def image_of(project: Project, *, visibility: str, name: str = "theirs") -> Image:
    return services.create_image(owner=project, name=name, disk_format="raw",
                                 container_format="bare", visibility=visibility)  # fmt: skip


def test_a_member_uploads_a_qcow2_and_it_becomes_active(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    page = browser.get("/images/").content.decode()
    assert "data-upload" in page
    assert "dashboard/upload.js" in page
    assert '<option value="public"' not in page  # a member may not publicize

    created = create(browser)
    assert created.status_code == 201, created.content
    image_id = created.json()["id"]
    assert created.json()["upload_url"] == f"/images/{image_id}/data/"
    data = tiny_qcow2(tmp_path).read_bytes()
    # more than Django would read into memory: the body is streamed, as the Glance PUT's
    assert len(data) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    uploaded = send(browser, created.json()["upload_url"], data)
    assert uploaded.status_code == 200, uploaded.content
    assert uploaded.json()["status"] == "active"
    shown = member.client.get(f"/image/v2/images/{image_id}").json()
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()  # noqa: S324 - Glance's checksum
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["visibility"] == "private"
    assert shown["owner"] == member.project.pk

    listed = browser.get("/images/").content.decode()
    assert f'<td class="mono">{image_id}</td>' in listed
    assert f'title="{len(data)} bytes"' in listed
    assert f'action="/images/{image_id}/delete/" data-confirm="Delete image tiny-upload?"' in listed
    # a second upload to an active image is the service's conflict
    assert send(browser, f"/images/{image_id}/data/", data).status_code == 409


def test_the_list_is_glances_for_the_project(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    other = make_caller("member")
    public = image_of(other.project, visibility="public", name="their-public")
    private = image_of(other.project, visibility="private", name="their-private")
    shared = image_of(other.project, visibility="shared", name="their-shared")
    mine = image_of(member.project, visibility="shared", name="my-shared")
    html = browser_for(member).get("/images/").content.decode()
    api = {i["id"] for i in member.client.get("/image/v2/images").json()["images"]}
    assert api == {str(public.pk), str(mine.pk)}
    for image in (public, mine):
        assert str(image.pk) in html
    for image in (private, shared):
        assert str(image.pk) not in html
    # their public image: listed, but not theirs to delete
    assert f"/images/{public.pk}/delete/" not in html
    assert f"/images/{mine.pk}/delete/" in html


def test_another_projects_private_image_is_404_like_an_unknown_one(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    other = make_caller("member")
    private = image_of(other.project, visibility="private")
    browser = browser_for(member)
    for image_id in (str(private.pk), "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert send(browser, f"/images/{image_id}/data/", b"x").status_code == 404
        deleted = browser.submit(f"/images/{image_id}/delete/", {}, page="/images/")
        assert deleted.status_code == 404
    # a visible image of another project: the API's 403, for data and delete alike
    public = image_of(other.project, visibility="public")
    assert send(browser, f"/images/{public.pk}/data/", b"x").status_code == 403
    assert browser.submit(f"/images/{public.pk}/delete/", {}, page="/images/").status_code == 403
    assert Image.objects.filter(pk__in=[private.pk, public.pk], status="queued").count() == 2


def test_bad_input_is_400_or_413_never_500(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    browser = browser_for(make_caller("member"))
    # the API's messages, by field, as JSON for upload.js and on the page without it
    bad = create(browser, disk_format="floppy", name="n" * 300)
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert errors["disk_format"] == ['"floppy" is not a valid choice.']
    assert errors["name"] == ["Ensure this field has no more than 255 characters."]
    page = browser.submit("/images/new/", {**FORM, "container_format": "tarball"}, page="/images/")
    assert page.status_code == 400
    html = page.content.decode()
    assert 'data-field-error="container_format">&quot;tarball&quot; is not a valid choice.' in html
    assert 'class="form-select is-invalid" id="image-container_format"' in html

    image_id = create(browser).json()["id"]
    url = f"/images/{image_id}/data/"
    # not a qcow2 although declared one: the store's check, and the image queued again
    garbage = send(browser, url, b"this is not a disk image" * 100)
    assert garbage.status_code == 400
    assert "error" in garbage.json()
    assert Image.objects.get(pk=image_id).status == "queued"
    # not the raw bytes
    assert (
        send(browser, url, b"x", content_type="multipart/form-data; boundary=x").status_code == 415
    )
    # over the size cap
    settings.COMPUTECLOUD = {**getattr(settings, "COMPUTECLOUD", {}), "IMAGE_SIZE_CAP": 4096}
    big = send(browser, url, tiny_qcow2(tmp_path).read_bytes())
    assert big.status_code == 413
    assert "too large" in big.json()["error"]
    assert Image.objects.get(pk=image_id).status == "queued"


def test_csrf_is_required_for_every_write(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser], tmp_path: Path
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    assert browser.post("/images/new/", FORM).status_code == 403
    assert not Image.objects.filter(owner=member.project).exists()
    image_id = create(browser).json()["id"]
    data = tiny_qcow2(tmp_path).read_bytes()
    assert send(browser, f"/images/{image_id}/data/", data, csrf=False).status_code == 403
    assert browser.post(f"/images/{image_id}/delete/").status_code == 403
    assert Image.objects.get(pk=image_id).status == "queued"
    assert browser.get(f"/images/{image_id}/data/").status_code == 405


def test_a_reader_has_no_buttons_and_gets_403(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    reader = make_caller("reader", project=member.project)
    image = image_of(member.project, visibility="private", name="ours")
    browser = browser_for(reader)
    html = browser.get("/images/").content.decode()
    assert str(image.pk) in html
    assert "data-upload" not in html
    assert "/delete/" not in html
    assert create(browser).status_code == 403
    assert send(browser, f"/images/{image.pk}/data/", b"x").status_code == 403
    assert browser.submit(f"/images/{image.pk}/delete/", {}, page="/images/").status_code == 403
    assert Image.objects.filter(owner=member.project).count() == 1


def test_the_owner_deletes(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    image = image_of(member.project, visibility="private", name="doomed")
    browser = browser_for(member)
    deleted = browser.submit(f"/images/{image.pk}/delete/", {}, page="/images/")
    assert deleted.status_code == 302
    assert not Image.objects.filter(pk=image.pk).exists()
    assert "Image doomed deleted." in browser.get("/images/").content.decode()
    assert member.client.get(f"/image/v2/images/{image.pk}").status_code == 404


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_a_real_browser_the_upload_runs_with_its_progress_bar(
    live_server: Any, tmp_path: Path
) -> None:
    """Headless Chromium under the page's Content-Security-Policy: upload.js creates the
    image, sends the file with its progress bar, and the reloaded list shows it active."""
    from playwright.sync_api import expect

    from apps.flavors.services import create_flavor
    from apps.identity.services import assign_roles
    from apps.keypairs.crypto import generate_ssh_key_pair
    from apps.keypairs.services import import_key_pair
    from tests.e2e.test_console_browser import chromium_page
    from tests.factories import ProjectFactory, UserFactory

    project = ProjectFactory()
    user = UserFactory(default_project_id=project.pk)
    assign_roles(user=user, project=project, roles=["member"])
    path = tiny_qcow2(tmp_path)
    # rows on every page, for the phone-width check below
    create_flavor(name="browser.flavor", flavorid="b1", memory_mb=256, vcpus=1, root_gb=1)
    import_key_pair(user_id=user.pk, project_id=project.pk, name="browser key",
                    public_key=generate_ssh_key_pair()[1])  # fmt: skip
    with chromium_page() as page:
        problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{live_server.url}/login/?next=/images/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "secret-password")
        page.click("button[type=submit]")
        page.click("text=Upload image")
        page.fill("#image-name", "from-the-browser")
        page.set_input_files("#image-file", str(path))
        with page.expect_response(lambda r: r.url.endswith("/data/")) as sent:
            page.click("[data-upload-submit]")
        assert sent.value.status == 200
        row = page.locator("tr", has_text="from-the-browser")
        expect(row).to_contain_text("active", timeout=15_000)
        size = row.locator("td.num")
        expect(size).to_have_attribute("title", f"{path.stat().st_size} bytes")
        # the overview's charts draw under the same policy
        page.goto(f"{live_server.url}/")
        drawn = page.evaluate(
            "() => [...document.querySelectorAll('canvas[data-quota-chart]')]"
            ".map(c => Boolean(window.Chart.getChart(c)))"
        )
        assert drawn
        assert all(drawn)
        # on a phone: nothing wider than the screen (tables scroll inside .table-wrap)
        page.set_viewport_size({"width": 390, "height": 800})
        for path_ in ("/", "/images/", "/flavors/", "/key-pairs/"):
            page.goto(f"{live_server.url}{path_}")
            width = page.evaluate("() => document.documentElement.scrollWidth")
            wide = page.evaluate(
                "() => [...document.querySelectorAll('body *')].filter(e => "
                "e.getBoundingClientRect().right > 391).slice(0, 6).map(e => e.tagName + '.' + "
                "e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
            )
            assert width <= 390, (path_, width, wide)
        assert problems == []
    image = Image.objects.get(name="from-the-browser")
    assert image.status == "active"
    assert image.size == path.stat().st_size
