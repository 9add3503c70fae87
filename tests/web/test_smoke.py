from __future__ import annotations

from tests.conftest import Relais
from tests.web.helpers import browser, demo_structure, sign_in


async def test_smoke(web_relais: Relais) -> None:
    b = browser(web_relais)
    page = await b.get("/annuaire", params={"q": "aide alimentaire", "commune": "26362"})
    print(page.status_code, page.text[:3000])
    assert page.status_code == 200
    sid = await demo_structure(web_relais)
    staff, _ = await sign_in(web_relais, sid)
    home = await staff.get("/")
    print(home.text[:4000])
    assert home.status_code == 200
