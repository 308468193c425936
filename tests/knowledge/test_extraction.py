"""From fetched bytes to a Document: trafilatura for HTML, pypdf for PDF."""

from __future__ import annotations

import pytest

from knowledge.documents import Kind
from knowledge.errors import SourceError
from knowledge.extraction import document_from_page, document_id
from knowledge.fetching import FetchedPage, FetchPolicy, fetch
from tests.web_server import ARTICLE_HTML, REPORT_PDF, LocalServer, blank_pdf, text_pdf

URL = "https://www.kyivledger.test/2024/11/grain-corridor?ref=home"


def html_page(html: str, url: str = URL) -> FetchedPage:
    return FetchedPage(url, "text/html", html.encode("utf-8"), "utf-8")


def test_an_html_article_becomes_a_dated_document() -> None:
    doc = document_from_page(html_page(ARTICLE_HTML), added_by="admin:42", kind="news")
    assert doc.title == "Grain corridor reopens after talks"
    assert doc.publisher == "Kyiv Ledger"
    assert doc.published == "2024-11-20"
    assert doc.kind is Kind.NEWS
    assert doc.url == URL
    assert doc.added_by == "admin:42"
    assert doc.text.startswith(
        "Grain corridor reopens after talks\nUkraine's Black Sea grain corridor reopened on Wednesday"
    )
    assert "Twelve ships left Odesa" in doc.text
    assert "newsletter" not in doc.text and "Sport" not in doc.text  # boilerplate dropped
    assert doc.id == document_id(URL)


def test_a_page_without_metadata_falls_back_to_first_words_and_host() -> None:
    html = (
        "<html><body><article><p>Shelling damaged a water station in Kherson overnight, "
        "leaving several districts without supply, the regional administration said.</p>"
        "</article></body></html>"
    )
    doc = document_from_page(html_page(html), added_by="admin")
    assert doc.title.startswith("Shelling damaged a water station")
    assert doc.publisher == "kyivledger.test"
    assert doc.published is None
    assert doc.kind is Kind.OTHER


def test_a_page_without_text_is_refused() -> None:
    with pytest.raises(SourceError, match="no article text found"):
        document_from_page(html_page("<html><head><title>Empty</title></head><body></body></html>"), "admin")


def test_a_pdf_with_text_becomes_a_document() -> None:
    page = FetchedPage("https://ocha.test/reports/sitrep-12.pdf", "application/pdf", REPORT_PDF)
    doc = document_from_page(page, added_by="admin", kind="official-statement")
    assert doc.title == "Situation report 12"
    assert "Power cuts affected 4 million people." in doc.text
    assert doc.text.startswith("Humanitarian situation report, November 2024")
    assert doc.publisher == "ocha.test"
    assert doc.kind is Kind.OFFICIAL_STATEMENT


def test_a_pdf_without_a_title_uses_its_first_line() -> None:
    pdf = text_pdf(["Evacuation notice for Pokrovsk", "All residents are urged to leave."])
    doc = document_from_page(FetchedPage("https://gov.test/n.pdf", "application/pdf", pdf), "admin")
    assert doc.title == "Evacuation notice for Pokrovsk"


def test_a_pdf_without_text_is_refused_clearly() -> None:
    page = FetchedPage("https://gov.test/scan.pdf", "application/pdf", blank_pdf())
    with pytest.raises(SourceError) as caught:
        document_from_page(page, "admin")
    assert str(caught.value) == "no text found in the PDF (is it a scan?)"


def test_a_broken_pdf_is_refused() -> None:
    page = FetchedPage("https://gov.test/broken.pdf", "application/pdf", b"%PDF-1.4\nnot really")
    with pytest.raises(SourceError, match="PDF"):
        document_from_page(page, "admin")


def test_document_ids_are_stable_readable_and_distinct() -> None:
    first = document_id(URL)
    assert first == document_id(URL)
    assert first.startswith("kyivledger-test-2024-11-grain-corridor-ref-home-")
    assert first != document_id(URL.replace("home", "feed"))
    assert len(document_id("https://x.test/" + "long-path/" * 40)) <= 60 + 11


def test_end_to_end_from_the_local_server(server: LocalServer) -> None:
    policy = FetchPolicy(allow_private=True)
    doc = document_from_page(fetch(server.url("/hops/2"), policy), added_by="admin")
    assert doc.url == server.url("/article")
    assert (doc.title, doc.published) == ("Grain corridor reopens after talks", "2024-11-20")
    with pytest.raises(SourceError, match=r"no text found in the PDF \(is it a scan\?\)"):
        document_from_page(fetch(server.url("/scan.pdf"), policy), added_by="admin")
