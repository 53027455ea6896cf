"""The demo's disposisi scene (issue 10, SPEC §8): a money-politics report with photos and
a location is forwarded by the camat to Bawaslu; the kecamatan's Bawaslu liaison does not
answer, so the forward climbs once to the kota's liaison, who accepts it, writes a
progress note and finishes it; the reporter and the camat hear of every step, and the
liaisons see the report's album and map pin arrive behind its card.

Played by :mod:`bot.rehearsal.demo` with its second-scale watch policy, so the climb
takes ``escalate_after`` (6 s) plus one watcher pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.rehearsal.emulator import FakeUser, Sent
from storage.members import MemberRow

if TYPE_CHECKING:
    from bot.rehearsal.demo import Stage, Transcript

AGENCIES = [
    ("bawaslu", "Bawaslu Jakarta Barat"),
    ("kpu", "KPU Jakarta Barat"),
    ("polri", "Polres Metro Jakarta Barat"),
]
"""The partner agencies of the sample city; only Bawaslu has liaisons."""

LIAISON_KEC = FakeUser(4001, "Hendra")  # Bawaslu at the kecamatan Kebon Jeruk
LIAISON_KOTA = FakeUser(4002, "Dewi")  # Bawaslu at the kota Jakarta Barat
LIAISONS = [
    MemberRow(
        "bws_kbj", "Hendra Gunawan", None, None, ("liaison",), (),
        ("31.73.01",), LIAISON_KEC.id, None, "bawaslu",
    ),
    MemberRow(
        "bws_kota", "Dewi Lestari", None, None, ("liaison",), (),
        ("31.73",), LIAISON_KOTA.id, None, "bawaslu",
    ),
]  # fmt: skip

EVENTS = ("forwarded", "forward_climbed", "forward_accepted", "forward_done", "liaison_evidence")


async def forward_scene(stage: Stage, transcript: Transcript) -> dict[str, bool]:
    """Play the scene; returns which of :data:`EVENTS` were seen."""
    emu = stage.emu
    start = emu.mark()
    transcript.note("Sari melaporkan dugaan politik uang, dengan dua foto dan lokasi kejadian.")
    async with stage.busy("sari"):
        ask = await stage.text("sari", "/lapor")
        await stage.press("sari", ask, "Politik uang")
        severity = await stage.wait_for_text("sari", "keparahan", after=start)
        await stage.press("sari", severity, "Tinggi")
        await stage.wait_for_text("sari", "uraian", after=start)
        await stage.text(
            "sari", "Ada pembagian amplop kepada warga di dekat TPS 12, sekitar 20 orang antre."
        )
        await stage.photo("sari")
        await stage.photo("sari")
        attach = await stage.location("sari")
        await stage.press("sari", attach, "Lanjut")
        summary = await stage.wait_for_text("sari", "periksa laporan", after=start)
        await stage.press("sari", summary, "Kirim")
        sent = await stage.wait_for_text("sari", "terkirim", after=start)
    ref = _ref_in(sent.text or "")

    transcript.note("Camat menerima laporan itu lalu meneruskannya ke Bawaslu.")
    card = await stage.wait_for_text("camat_kbj", ref, after=start)
    await stage.press("camat_kbj", card, "Terima")
    await stage.wait_for_text("sari", "diterima", after=start)
    await stage.press("camat_kbj", card, "Teruskan")
    pick = await stage.wait_for_text("camat_kbj", "instansi mana", after=start)
    await stage.press("camat_kbj", pick, "⭐ Bawaslu")
    await stage.wait_for_text("camat_kbj", "catatan untuk", after=start)
    await stage.text("camat_kbj", "Mohon segera dicek; saksi warga ada di lokasi.")
    await stage.wait_for_text("camat_kbj", "diteruskan ke Bawaslu", after=start)
    first = await stage.wait_for_text("bws_kbj", ref, after=start)
    forwarded = "Disposisi untuk Bawaslu" in (first.text or "")

    transcript.note("Penghubung Bawaslu kecamatan belum menanggapi; disposisi naik ke kota.")
    climbed = await stage.wait_for_text("bws_kota", "belum diterima di tingkat bawah", after=start)
    transcript.note("Bawaslu kota melihat foto dan lokasi kejadian, lalu menerima disposisi.")
    seen = [
        await emu.wait_for(_call_to(chat, method), after=start, timeout=10)
        for chat in (LIAISON_KEC.id, LIAISON_KOTA.id)
        for method in ("sendMediaGroup", "sendLocation")
    ]
    await stage.press("bws_kota", climbed, "Terima")
    await stage.wait_for_text("sari", "diterima oleh Bawaslu", after=start)
    await stage.wait_for_text("camat_kbj", "diterima oleh Bawaslu", after=start)
    transcript.note("Bawaslu kota menindaklanjuti dan menyelesaikan laporan.")
    await stage.press("bws_kota", climbed, "Tindak lanjut")
    await stage.wait_for_text("bws_kota", "tulis tindak lanjut", after=start)
    await stage.text("bws_kota", "Tim pengawas tiba di TPS 12; dua orang dimintai keterangan.")
    await stage.wait_for_text("camat_kbj", "Tindak lanjut Bawaslu", after=start)
    await stage.press("bws_kota", climbed, "Selesai")
    await stage.wait_for_text("bws_kota", "tulis hasil penanganan", after=start)
    await stage.text("bws_kota", "Temuan dicatat dan diteruskan ke Gakkumdu. Terima kasih.")
    done_sari = await stage.wait_for_text("sari", "selesai ditangani", after=start)
    done_camat = await stage.wait_for_text("camat_kbj", "selesai ditangani", after=start)

    return {
        "forwarded": forwarded,
        "forward_climbed": "Bawaslu" in (climbed.text or ""),
        "forward_accepted": True,
        "forward_done": ref in (done_sari.text or "") and ref in (done_camat.text or ""),
        "liaison_evidence": len(seen) == 4,
    }


def _call_to(chat_id: int, method: str) -> Callable[[Sent], bool]:
    return lambda record: record.chat_id == chat_id and record.method == method


def _ref_in(text: str) -> str:
    """The report reference (``KBJ-02/0002``) in the reporter's confirmation."""
    for word in text.replace(".", " ").split():
        if "/" in word and "-" in word:
            return word
    raise RuntimeError(f"no report reference in {text!r}")
