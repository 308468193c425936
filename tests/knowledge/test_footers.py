"""A trailing related-links block is not article text; everything else is kept."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.runtime.service import builtin_documents
from knowledge.footers import strip_link_footer
from knowledge.readers import read_markdown

ARTICLE = "Troops arrived in Kursk.\n\nOfficials confirmed it on Monday."


def test_the_seed_articles_related_sources_line_is_dropped() -> None:
    text = f"{ARTICLE}\n\nRelated Sources:\n\n• Source 1 • Source 2"
    assert strip_link_footer(text) == ARTICLE


def test_the_built_in_article_has_no_link_footer() -> None:
    (seed,) = builtin_documents()
    assert "Related Sources" not in seed.text and "Source 1" not in seed.text
    assert seed.text.rstrip().endswith("rapidly evolving geopolitical landscape.")


def test_a_markdown_file_loses_its_footer_but_keeps_its_body(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(f"# Title\n\n{ARTICLE}\n\n## See also\n- [Kursk](https://x.example/1)\n- Kursk map\n",
                    encoding="utf-8")
    assert read_markdown(path, "test").text.endswith("Officials confirmed it on Monday.")


def test_numbered_and_bold_headings_count() -> None:
    assert strip_link_footer(f"{ARTICLE}\n\n**Read more:**\n1. One story\n2. Another") == ARTICLE


def test_a_closing_paragraph_about_sources_stays() -> None:
    text = f"{ARTICLE}\n\nSources:\nTwo officials said the troops would stay through the winter and beyond."
    assert strip_link_footer(text) == text


def test_a_list_without_a_link_heading_stays() -> None:
    text = f"{ARTICLE}\n\nThe demands were:\n- a ceasefire\n- an exchange of prisoners"
    assert strip_link_footer(text) == text


def test_a_list_of_long_paragraphs_stays() -> None:
    long_item = "- " + "The troops moved north along the river before dawn, officials said. " * 4
    text = f"{ARTICLE}\n\nRelated:\n{long_item}"
    assert strip_link_footer(text) == text


def test_a_text_that_is_only_a_footer_stays() -> None:
    text = "Related Sources:\n• Source 1"
    assert strip_link_footer(text) == text


@given(st.text(alphabet=st.sampled_from(list("ab •-:\nRelated Sources1.*#")), max_size=200))
def test_the_result_is_always_a_prefix_of_the_text(text: str) -> None:
    result = strip_link_footer(text)
    assert text.startswith(result)
    assert bool(result.strip()) == bool(text.strip())  # never empties a text
