"""Handoff triggers as pure functions: policy topics in five languages, frustration, value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.handoff.triggers import EUR_RATES, declared_value_eur, frustration, policy_topic

UTTERANCES = Path(__file__).parents[3] / "evals" / "datasets" / "utterances.jsonl"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Jeg går til min advokat, hvis I ikke finder pakken", "legal"),
        ("Jag ska anmäla er till Allmänna reklamationsnämnden", "legal"),
        ("Jeg kommer til å gå til forliksrådet med dette", "legal"),
        ("Haastan teidät oikeuteen tästä", "legal"),
        ("I will take legal action and talk to my lawyer", "legal"),
        ("Jeg har klikket på linket i en falsk sms og betalt 30 kr", "fraud"),
        ("Jag har fått ett falskt sms i ert namn och klickade på länken", "fraud"),
        ("Jeg vil melde fra om svindel, noen utgir seg for å være dere", "fraud"),
        ("Sain huijausviestin ja maksoin tullimaksun", "fraud"),
        ("jag fick ett sms från er och betalade 25 kr, nu har någon tömt mitt konto", "fraud"),
        ("I clicked a link in a fake text from you and paid", "fraud"),
        ("Jeg vil gerne have slettet mine oplysninger", "data_protection"),
        ("Jag vill att ni raderar mina personuppgifter enligt GDPR", "data_protection"),
        ("Jeg krever innsyn i hvilke opplysninger dere har om meg", "data_protection"),
        ("Poistakaa tietoni järjestelmästänne", "data_protection"),
        ("What personal data do you hold about me?", "data_protection"),
    ],
)
def test_policy_topics_in_five_languages(text: str, topic: str) -> None:
    assert policy_topic(text) == topic


@pytest.mark.parametrize(
    "text",
    [
        "jeg fik en mærkelig sms om told, er det svindel?",
        "i got a weird sms about customs fees is it a scam?",
        "sain oudon tekstiviestin tullimaksusta, onko se huijaus?",
    ],
)
def test_a_question_about_a_suspicious_text_is_for_the_help_centre(text: str) -> None:
    assert policy_topic(text, asking=True) is None
    assert policy_topic(text, asking=False) == "fraud"


def test_no_policy_topic_in_ordinary_messages() -> None:
    """Every non-fraud utterance of the NLU eval set: tracking, redirects, complaints, chat."""
    flagged = []
    for line in UTTERANCES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = row["text"]
        asking = text.rstrip().endswith("?") or any(
            i["name"] == "knowledge" for i in row["intents"]
        )
        if policy_topic(text, asking=asking) is not None:
            flagged.append(text)
    assert flagged == []
    assert policy_topic("I paid the customs fee, where is my parcel?") is None
    assert policy_topic("det stämmer, tack") is None


def test_frustration_needs_a_strong_outburst_or_repeated_upset() -> None:
    calm = {"sentiment": 0.1, "upset": False, "shouting": False}
    upset = {"sentiment": -0.5, "upset": True, "shouting": False}
    furious = {"sentiment": -0.9, "upset": True, "shouting": False}
    shouting = {"sentiment": -0.2, "upset": True, "shouting": True}
    assert not frustration([])
    assert not frustration([calm, calm])
    assert not frustration([calm, upset])
    assert frustration([furious])
    assert frustration([shouting])
    assert frustration([upset, calm, upset])
    assert not frustration([upset, calm, calm, upset][-3:])
    assert not frustration([upset, furious, calm])


def test_declared_values_convert_to_euro_at_fixed_rates() -> None:
    assert declared_value_eur({"amount": 4999, "currency": "NOK"}) == round(
        4999 * EUR_RATES["NOK"], 2
    )
    assert declared_value_eur({"amount": 100, "currency": "eur"}) == 100.0
    assert declared_value_eur({"amount": 100, "currency": "USD"}) is None
    assert declared_value_eur({"amount": "lots", "currency": "DKK"}) is None
    assert declared_value_eur(None) is None


def test_a_word_one_letter_from_a_report_verb_is_not_a_report() -> None:
    """Regression: "betale" (to pay) was read as "betalt" (paid), so a question became a report."""
    question = "jeg fikk en sms om å betale toll, er det svindel?"
    assert policy_topic(question, asking=True) is None
