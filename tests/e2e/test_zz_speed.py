import time
import pytest
from django.core.management import call_command
from .conftest import log_in, AXE
from .test_accessibility import administrator_pages, DEMO_PASSWORD
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def demo(site, settings):
    settings.DEBUG = True
    call_command("seed_demo")
    settings.DEBUG = False

def test_speed(page, demo):
    log_in(page, "admin", DEMO_PASSWORD)
    paths = administrator_pages()
    t = {"goto": 0, "inject": 0, "full": 0, "viol": 0}
    for path in paths:
        a = time.perf_counter(); page.goto(path); b = time.perf_counter()
        page.add_script_tag(path=str(AXE)); c = time.perf_counter()
        r1 = page.evaluate("async () => (await axe.run(document)).violations.length"); d = time.perf_counter()
        r2 = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations.length"); e = time.perf_counter()
        t["goto"] += b - a; t["inject"] += c - b; t["full"] += d - c; t["viol"] += e - d
        print(path, round(b-a,2), round(c-b,2), round(d-c,2), round(e-d,2), r1, r2)
    print(t)
    # admin dashboard detail
    page.goto("/")
    print(page.locator("a[href='/assess/?unit=']").evaluate_all("els => els.map(e => e.outerHTML)"))
    print(page.locator("main").inner_html()[:3000])
