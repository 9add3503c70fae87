from __future__ import annotations

from tests.referrals.conftest import World, referral_body


async def test_create_and_read(world: World) -> None:
    sender = await world.org("CCAS")
    receiver = await world.org("Partenaire")
    response = await world.client.post(
        "/referrals/v1/referrals", json=referral_body(receiver), headers=sender.member
    )
    assert response.status_code == 201, response.text
    body = response.json()
    print(body)
    rid = body["id"]
    hid = body["handoffs"][0]["id"]
    got = await world.client.get(f"/referrals/v1/referrals/{rid}", headers=receiver.member)
    assert got.status_code == 200, got.text
    r = await world.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs/{hid}/accept",
        headers={**receiver.member, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
