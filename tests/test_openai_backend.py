"""The `openai` backends against a real local HTTP server speaking the OpenAI protocol (tests/openai_server.py).

Nothing here mocks the openai client: requests go over TCP to 127.0.0.1 and the server records them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEMO, demo_url
from openai_server import OpenAIServer, hashed_embedding

from rag.answer.compose import asks_the_same, unsaid_names
from rag.answer.sources import format_sources, select_sources
from rag.assistant import Assistant
from rag.backends.embeddings import OpenAIEmbedder
from rag.backends.llms import OpenAILLM, complete, redact
from rag.errors import BackendError, ConfigError
from rag.settings import Settings
from rag.text import chunk_body, split_sentences

QUESTION = "What is Russia's position on European peacekeepers?"
YES_NO = "Did Russia reject the deployment of European peacekeepers to Ukraine?"
EXPECTED = "moscow-european-peacekeepers-direct-conflict"  # the demo article that answers QUESTION
# Copied from that article (examples/news/json/briefs.jsonl).
COPIED = (
    "Russia's foreign ministry has rejected any deployment of European troops to Ukraine, warning that "
    "such a force would put NATO countries in direct conflict with Russia"
)
CHAT_MODEL = "scripted-chat-1"
EMBED_MODEL = "hashed-bow-64"


def expected_doc_id() -> str:
    from ingest.article import Article

    return Article(title="", text="", url=demo_url(EXPECTED)).doc_id


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openai_settings(srv: OpenAIServer, data_dir: Path, **overrides) -> Settings:
    values = dict(
        data_dir=data_dir,
        llm="openai",
        embeddings="openai",
        openai_base_url=srv.base_url,
        openai_model=CHAT_MODEL,
        openai_embedding_model=EMBED_MODEL,
        openai_timeout=5.0,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as srv:
        yield srv


@pytest.fixture
def srv(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture(scope="module")
def openai_index(server, tmp_path_factory):
    """The demo corpus ingested once with the server's embeddings: (data dir, ingest report, texts embedded)."""
    server.reset()
    data = tmp_path_factory.mktemp("openai") / "data"
    report = Assistant(openai_settings(server, data)).ingest([DEMO])
    texts = server.embedded_texts()
    requests = server.embedding_requests
    server.reset()
    return data, report, texts, requests


@pytest.fixture
def assistant(openai_index, srv):
    return Assistant(openai_settings(srv, openai_index[0]))


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


# -- the helper server itself ---------------------------------------------------------------------
def test_server_speaks_the_protocol_to_the_real_client(srv):
    from openai import OpenAI

    client = OpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
    srv.reset(["plain reply"])
    got = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}])
    assert got.choices[0].message.content == "plain reply"
    assert srv.chat_requests[0].body.get("stream") in (None, False)
    # Out-of-order data in both encodings: the client decodes base64 by default, floats when asked.
    for fmt in ({}, {"encoding_format": "float"}):
        resp = client.embeddings.create(model="e", input=["a b", "c"], **fmt)
        assert [d.index for d in resp.data] == [1, 0]
        assert len(resp.data[0].embedding) == 64
    assert [r.body.get("encoding_format") for r in srv.embedding_requests] == ["base64", "float"]


# -- 1. streaming ---------------------------------------------------------------------------------
def test_llm_streams_scripted_pieces_with_model_and_key_from_environment(srv, monkeypatch):
    monkeypatch.setenv("NEWSRAG_OPENAI_MODEL", "env-chat-model")
    monkeypatch.setenv("NEWSRAG_OPENAI_BASE_URL", srv.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env")
    pieces = ["Lavrov ", "called ", "it ", "unacceptable", " [1]", "."]
    srv.reset([pieces])
    llm = OpenAILLM(Settings())
    assert llm.name == "openai:env-chat-model"
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what did he say?"}]
    assert list(llm.stream(messages, max_tokens=33)) == pieces

    (req,) = srv.chat_requests
    assert req.path == "/v1/chat/completions"
    assert req.body["stream"] is True
    assert req.body["model"] == "env-chat-model"
    assert req.body["messages"] == messages
    assert req.body["max_tokens"] == 33
    assert req.body["temperature"] == 0.0
    assert req.headers["authorization"] == "Bearer sk-from-openai-env"


def test_newsrag_api_key_wins_and_is_sent_to_both_endpoints(srv, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-generic")
    monkeypatch.setenv("NEWSRAG_OPENAI_API_KEY", "sk-newsrag")
    srv.api_key = "sk-newsrag"  # anything else gets 401
    settings = Settings(openai_base_url=srv.base_url)
    assert complete(OpenAILLM(settings), [{"role": "user", "content": "hi"}], 8) == "The sources do not say."
    vecs = OpenAIEmbedder(settings).embed(["one", "two words"])
    assert vecs.shape == (2, 64)
    assert {r.headers["authorization"] for r in srv.requests} == {"Bearer sk-newsrag"}


def test_no_key_anywhere_sends_a_placeholder(srv):
    list(OpenAILLM(Settings(openai_base_url=srv.base_url)).stream([{"role": "user", "content": "hi"}], 8))
    assert srv.chat_requests[0].headers["authorization"] == "Bearer not-needed"


def test_embeddings_are_put_back_in_input_order(srv):
    texts = [f"text number {i} about {'ukraine' if i % 2 else 'rates'}" for i in range(130)]  # two batches
    vecs = OpenAIEmbedder(Settings(openai_base_url=srv.base_url)).embed(texts)
    assert [len(r.body["input"]) for r in srv.embedding_requests] == [128, 2]
    for i in (0, 1, 77, 128, 129):
        assert vecs[i].tolist() == pytest.approx(hashed_embedding(texts[i]), abs=1e-6)


# -- 2. end to end ----------------------------------------------------------------------------------
def test_ingest_embeds_every_chunk_at_the_server(openai_index):
    data, report, texts, requests = openai_index
    assert report.failed == 0 and report.new == 20
    assert len(texts) == report.chunks_embedded
    assert {r.body["model"] for r in requests} == {EMBED_MODEL}
    stats = Assistant(
        Settings(data_dir=data, embeddings="openai", openai_embedding_model=EMBED_MODEL, llm="extractive")
    ).stats()
    assert stats["chunks"] == len(texts) and stats["articles"] == 20


def test_ask_end_to_end_with_verified_citation(assistant, srv):
    sources = select_sources(QUESTION, assistant.retrieve(QUESTION), assistant.settings.context_sources)
    n = next(s.n for s in sources if s.doc_id == expected_doc_id())
    reply = f"{COPIED} [{n}]."
    srv.reset([reply])

    answer = assistant.ask(QUESTION)

    assert answer.answered
    assert answer.query == QUESTION
    said, shown = answer.text.split("\n\n")  # the reply, then what its source says that it does not
    assert said == reply and shown.startswith("Eastbridge Observer (2025-03-06): ")
    assert [(c.n, c.doc_id, c.verified) for c in answer.citations] == [(n, expected_doc_id(), True)]
    assert answer.citations[0].url == demo_url(EXPECTED)
    assert answer.citations[0].quote == COPIED + "."
    # The query was embedded by the server; one chat call carried the numbered sources and the question.
    # The query was embedded for the search, then again beside the sources' sentences to choose among them,
    # and after the answer beside the cited chunk's sentences it does not say, to choose the key ones.
    queries = [r.body["input"] for r in srv.embedding_requests]
    assert len(queries) == 3 and queries[0] == [QUESTION]
    assert queries[1][0] == QUESTION and len(queries[1]) > 4
    cited = next(s for s in answer.sources if s.n == n)
    assert queries[2][0] == QUESTION and set(queries[2][1:]) <= set(split_sentences(chunk_body(cited.text)))
    (chat,) = srv.chat_requests
    assert chat.body["model"] == CHAT_MODEL and chat.body["stream"] is True
    assert chat.body["max_tokens"] == assistant.settings.max_tokens
    system, user = chat.body["messages"]
    assert system["role"] == "system" and "numbered news sources" in system["content"]
    assert user["role"] == "user"
    prompt = user["content"]
    assert prompt.startswith("Sources:\n<<<\n[1] ") and f"\n>>>\n\nQuestion: {QUESTION}\n" in prompt
    assert (
        f"[{n}] Moscow: European peacekeepers would mean direct conflict with NATO (Eastbridge Observer, 2025-03-06)"
        in prompt
    )
    assert format_sources(answer.sources) in prompt


def test_stream_yields_server_pieces_then_the_answer(assistant, srv):
    sources = select_sources(QUESTION, assistant.retrieve(QUESTION), assistant.settings.context_sources)
    n = next(s.n for s in sources if s.doc_id == expected_doc_id())
    pieces = ["Russia ", "rejects ", "any deployment of European troops to Ukraine", f" [{n}]", "."]
    srv.reset([pieces])
    items = list(assistant.stream(QUESTION))
    assert [s.n for s in items[0].sources] == [
        s.n for s in items[-1].sources
    ]  # the sources first, then the text
    assert items[1 : len(pieces) + 1] == pieces
    said = f"Russia rejects any deployment of European troops to Ukraine [{n}]."
    assert items[-1].text.split("\n\n")[0] == said
    # then what its source says that the reply does not, as one more piece
    assert [said + items[-2]] == [items[-1].text] and items[-2].startswith(
        "\n\nEastbridge Observer (2025-03-06): "
    )
    assert [c.n for c in items[-1].citations] == [n]


# -- 3. follow-up -----------------------------------------------------------------------------------
def test_follow_up_rewrites_then_answers(assistant, srv):
    history = [
        {"role": "user", "content": "What did Lavrov say after the Riyadh talks?"},
        {"role": "assistant", "content": "He said Russia rejected NATO troops in Ukraine [1]."},
    ]
    follow_up = "And what about European peacekeepers?"
    sources = select_sources(QUESTION, assistant.retrieve(QUESTION), assistant.settings.context_sources)
    n = next(s.n for s in sources if s.doc_id == expected_doc_id())
    srv.reset([QUESTION + "\n", f"{COPIED} [{n}]."])

    answer = assistant.ask(follow_up, history=history)

    assert answer.question == follow_up
    assert answer.query == QUESTION
    assert [(c.n, c.doc_id, c.verified) for c in answer.citations] == [(n, expected_doc_id(), True)]
    rewrite, final = srv.chat_requests
    assert rewrite.body["max_tokens"] == 64
    (msg,) = rewrite.body["messages"]
    assert "user: What did Lavrov say after the Riyadh talks?" in msg["content"]
    assert "assistant: He said Russia rejected NATO troops in Ukraine [1]." in msg["content"]
    assert f"Last question: {follow_up}" in msg["content"]
    assert f"Question: {QUESTION}\n" in final.body["messages"][-1]["content"]  # the rewrite was searched
    assert [r.body["input"] for r in srv.embedding_requests][-3] == [QUESTION]  # then evidence, key sentences


def test_a_rewrite_that_resolves_nothing_is_searched_with_the_previous_questions_words(assistant, srv):
    history = [
        {"role": "user", "content": "What happened with the Aerlume strike?"},
        {"role": "assistant", "content": "Pilots walked out for 48 hours [1]."},
    ]
    follow_up = "What are the pilots asking for?"
    srv.reset([follow_up + "\n", "They want more pay [1]."])  # the model hands the follow-up back unchanged

    answer = assistant.ask(follow_up, history=history)

    assert answer.query == "What are the pilots asking for? (happened Aerlume strike)"
    assert [answer.query] in [r.body["input"] for r in srv.embedding_requests]


@pytest.mark.parametrize(
    "earlier, follow_up, rewrite, query, searched",
    [
        # the rewrite names someone the conversation never mentioned
        (
            "What did Starmer say about sending troops to Ukraine?",
            "And what did Trump say when they met?",
            "What did Trump say when he met with Putin?",
            "And what did Trump say when they met? (Starmer sending troops Ukraine)",
            "what did Trump say when they met? (Starmer sending troops Ukraine)",  # the topic: no "And"
        ),
        # the rewrite asks who where the follow-up asked how
        (
            "Who leads the Aerlume pilots' union?",
            "how did she win the vote?",
            "Who did Dana Whitlock beat in the Aerlume union vote?",
            "how did she win the vote? (leads Aerlume pilots' union)",
            "how did she win the vote? (leads Aerlume pilots' union)",
        ),
    ],
)
def test_a_rewrite_that_is_not_trusted_is_not_searched(
    assistant, srv, earlier, follow_up, rewrite, query, searched
):
    history = [{"role": "user", "content": earlier}, {"role": "assistant", "content": "An answer [1]."}]
    srv.reset([rewrite + "\n", "A reply [1]."])

    answer = assistant.ask(follow_up, history=history)

    assert answer.query == query
    assert [searched] in [r.body["input"] for r in srv.embedding_requests]


@pytest.mark.parametrize(
    "rewrite, follow_up, same",
    [
        ("What was the fine imposed on Velocab?", "how big was the fine?", True),  # the same, said otherwise
        ("Who replaced Ten Hag as coach?", "and who replaced him?", True),
        ("Who did Trump meet in Alaska?", "and trump?", True),  # no question word to keep
        ("Who are Benavidez and Andrade, and what are their records?", "and what are their records?", False),
        ("When did the Shiffrins meet?", "where did they meet?", False),
    ],
)
def test_a_rewrite_asks_what_the_follow_up_asks(rewrite, follow_up, same):
    assert asks_the_same(rewrite, follow_up) is same


def test_names_a_rewrite_gives_that_the_conversation_never_did():
    history = [
        {"role": "user", "content": "did man united beat chelsea?"},
        {"role": "assistant", "content": "Yes, United won 2-1 [1]."},
    ]
    assert unsaid_names("Who scored for Manchester United against Chelsea?", "who scored?", history) == []
    assert unsaid_names("Did the European Union fine X?", "did they fine x?", [HISTORY_EU]) == []  # initials
    assert unsaid_names("What did the Russian minister say?", "and lavrov?", [HISTORY_RU]) == []  # demonym
    assert unsaid_names("Who scored for Manchester United against Arsenal?", "who scored?", history) == [
        "Arsenal"
    ]


HISTORY_EU = {"role": "user", "content": "what did the EU do about X?"}
HISTORY_RU = {"role": "user", "content": "what is Russia's position?"}


# -- 4. errors ----------------------------------------------------------------------------------------
MESSAGES = [{"role": "user", "content": "hi"}]
URL_HINT = "check that NEWSRAG_OPENAI_BASE_URL is an OpenAI-compatible API (usually ending in /v1)"
KEY = "sk-test-4f9c2d7e8a1b3c5d7e9f"
HTML = (
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
    "<body><h1>Corporate proxy</h1><p>Please sign in to continue.</p></body></html>"
)
HTML_SEEN = '"<!DOCTYPE html> <html><head><title>Sign in</title></head> <b…"'
BROKEN_JSON = '{"id": "chatcmpl-1", "choices": [{"message": '


def stream_error(srv: OpenAIServer, **settings) -> tuple[list[str], str]:
    """The pieces an OpenAILLM streamed before it failed, and its one-line message."""
    got: list[str] = []
    with pytest.raises(BackendError) as err:
        for piece in OpenAILLM(Settings(openai_base_url=srv.base_url, **settings)).stream(MESSAGES, 8):
            got.append(piece)
    return got, str(err.value)


def test_http_500_names_the_endpoint_after_one_retry(srv):
    srv.status = 500
    _, message = stream_error(srv)
    assert message == f"the LLM endpoint {srv.base_url} answered HTTP 500: scripted failure HTTP 500"
    assert len(srv.chat_requests) == 2  # one retry


def test_http_401_is_not_retried(srv):
    srv.api_key = "sk-right-0123456789"
    _, message = stream_error(srv, openai_api_key="sk-wrong-0123456789")
    assert message == (
        f"the LLM endpoint {srv.base_url} refused the API key (HTTP 401: Incorrect API key provided); "
        "check NEWSRAG_OPENAI_API_KEY (or OPENAI_API_KEY)"
    )
    assert len(srv.chat_requests) == 1


@pytest.mark.parametrize(
    "content_type, body, said",
    [
        (
            "application/json",
            '{"error": {"message": "invalid token in header Authorization: {authorization}"}}',
            "invalid token in header Authorization: Bearer [redacted]",
        ),
        (
            "text/plain",
            "401 Unauthorized\n\nAuthorization: {authorization}",
            "401 Unauthorized Authorization: Bearer [redacted]",
        ),
        ("text/plain", f"unknown key {KEY}", "unknown key [redacted]"),
    ],
)
def test_key_echoed_by_a_401_is_redacted(srv, content_type, body, said):
    srv.canned = (401, content_type, body)
    _, message = stream_error(srv, openai_api_key=KEY)
    assert message == (
        f"the LLM endpoint {srv.base_url} refused the API key (HTTP 401: {said}); "
        "check NEWSRAG_OPENAI_API_KEY (or OPENAI_API_KEY)"
    )
    assert srv.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"  # the key was sent
    assert KEY not in message and KEY[3:12] not in message


def test_a_key_that_is_not_sk_shaped_is_redacted_too(srv):
    key = "corp-token-8b1e47c2d9"
    srv.canned = (403, "text/plain", f"token {key} lacks scope chat; header was {{authorization}}")
    with pytest.raises(BackendError) as err:
        OpenAIEmbedder(Settings(openai_base_url=srv.base_url, openai_api_key=key)).embed(["x"])
    assert str(err.value) == (
        f"the embedding endpoint {srv.base_url} refused the API key (HTTP 403: token [redacted] lacks scope "
        "chat; header was Bearer [redacted]); check NEWSRAG_OPENAI_API_KEY (or OPENAI_API_KEY)"
    )


def test_redact():
    assert redact("GET http://bob:hunter2@proxy/v1\n Basic Ym9iOmh1bnRlcjI= sk-proj-abc123XYZ", None) == (
        "GET http://[redacted]@proxy/v1 Basic [redacted] [redacted]"
    )


def test_malformed_stream_is_one_line_after_the_pieces_that_came(srv):
    srv.reset(["partial answer"])
    srv.malformed = '{"choices": [{"delta": {"content": "x"'
    got, message = stream_error(srv)
    assert got == ["partial ", "answer"]
    assert message == (
        f"the LLM endpoint {srv.base_url} sent a malformed stream: an event is not JSON "
        f'("{{"choices": [{{"delta": {{"content": "x""); {URL_HINT}'
    )


def test_stream_event_that_is_not_a_chunk(srv):
    srv.malformed = '{"choices": "none"}'
    _, message = stream_error(srv)
    assert message == (
        f"the LLM endpoint {srv.base_url} sent a malformed stream: an event is not a chat completion chunk "
        f'("{{"choices": "none"}}"); {URL_HINT}'
    )


@pytest.mark.parametrize(
    "content_type, body, seen",
    [
        ("text/html; charset=utf-8", HTML, f"text/html ({HTML_SEEN})"),
        (
            "application/json",
            BROKEN_JSON,
            f'application/json that is not a JSON object ("{BROKEN_JSON.strip()}")',
        ),
    ],
)
def test_a_200_that_is_not_json_is_an_invalid_response(srv, content_type, body, seen):
    srv.canned = (200, content_type, body)
    _, message = stream_error(srv)
    assert message == (
        f"the LLM endpoint {srv.base_url} sent an invalid response: expected JSON/SSE, got {seen}; {URL_HINT}"
    )
    assert len(srv.chat_requests) == 1
    with pytest.raises(BackendError) as err:
        OpenAILLM(Settings(openai_base_url=srv.base_url)).yes_no(MESSAGES)
    assert str(err.value) == (
        f"the LLM endpoint {srv.base_url} sent an invalid response: expected JSON, got {seen}; {URL_HINT}"
    )
    with pytest.raises(BackendError) as err:
        OpenAIEmbedder(Settings(openai_base_url=srv.base_url)).embed(["x"])
    assert str(err.value) == (
        f"the embedding endpoint {srv.base_url} sent an invalid response: expected JSON, got {seen}; {URL_HINT}"
    )


def test_a_whole_json_completion_for_a_stream_request_is_the_answer(srv):
    """Some servers ignore "stream": true."""
    completion = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"content": "All at once."}}],
    }
    srv.canned = (200, "application/json", json.dumps(completion))
    assert list(OpenAILLM(Settings(openai_base_url=srv.base_url)).stream(MESSAGES, 8)) == ["All at once."]
    srv.canned = (200, "application/json", '{"object": "list"}')
    _, message = stream_error(srv)
    assert message == (
        f"the LLM endpoint {srv.base_url} sent an invalid response: expected a chat completion, got JSON "
        f'without choices ("{{"object": "list"}}"); {URL_HINT}'
    )


def test_yes_no_gives_way_only_when_logprobs_are_refused(srv):
    llm = OpenAILLM(Settings(openai_base_url=srv.base_url))
    assert llm.yes_no(MESSAGES) is None  # HTTP 400: logprobs are not supported
    srv.status = 503
    with pytest.raises(BackendError, match=rf"^the LLM endpoint {srv.base_url} answered HTTP 503: "):
        llm.yes_no(MESSAGES)


def test_broken_endpoint_is_never_an_answer_that_the_sources_do_not_say(demo_data_dir, tmp_path, srv):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)  # local embeddings: only the LLM is at the endpoint
    srv.canned = (200, "text/html", HTML)
    for mode, question in (("auto", QUESTION), ("verdict", YES_NO)):
        assistant = Assistant(
            Settings(data_dir=data, llm="openai", openai_base_url=srv.base_url, yes_no=mode)
        )
        with pytest.raises(
            BackendError, match=r"sent an invalid response: expected JSON(/SSE)?, got text/html"
        ):
            assistant.ask(question)
    assert [r.body.get("logprobs") for r in srv.chat_requests] == [None, True]


BOUND = 2.0  # NEWSRAG_OPENAI_TIMEOUT in the tests below
TIMED_OUT = "timed out; try again, raise NEWSRAG_OPENAI_TIMEOUT, or use --llm extractive"


def test_hanging_endpoint_fails_within_the_bound(srv):
    srv.delay = 30.0
    t0 = time.perf_counter()
    _, message = stream_error(srv, openai_timeout=BOUND)
    assert time.perf_counter() - t0 < BOUND + 3  # lenient: proves the bound, not a speed
    assert message == f"the LLM endpoint {srv.base_url} {TIMED_OUT}"
    assert len(srv.chat_requests) == 1  # no retry after the time is up


def test_dripping_endpoint_fails_within_the_bound(srv):
    """Each piece comes well within the client's read timeout, but the whole answer would take 12 s."""
    srv.reset([" ".join(["word"] * 30)])
    srv.drip = 0.4
    t0 = time.perf_counter()
    got, message = stream_error(srv, openai_timeout=BOUND)
    assert time.perf_counter() - t0 < BOUND + 3
    assert message == f"the LLM endpoint {srv.base_url} {TIMED_OUT}"
    assert 0 < len(got) < 30


def test_ask_against_a_hanging_endpoint_fails_within_the_bound(demo_data_dir, tmp_path, srv):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    assistant = Assistant(
        Settings(data_dir=data, llm="openai", openai_base_url=srv.base_url, openai_timeout=BOUND)
    )
    assistant.warm()
    srv.delay = 30.0
    t0 = time.perf_counter()
    with pytest.raises(BackendError) as err:
        assistant.ask(QUESTION)
    assert time.perf_counter() - t0 < BOUND + 3
    assert str(err.value) == f"the LLM endpoint {srv.base_url} {TIMED_OUT}"


def test_stall_mid_stream_times_out(srv):
    srv.reset(["one two three four"])
    srv.stall_after = 2
    got, message = stream_error(srv, openai_timeout=0.5)
    assert message == f"the LLM endpoint {srv.base_url} {TIMED_OUT}"
    assert got == ["one ", "two "]


def test_error_event_mid_stream(srv):
    srv.reset(["partial answer"])
    srv.stream_error = "model overloaded"
    _, message = stream_error(srv)
    assert message == f"the LLM endpoint {srv.base_url} failed mid-answer: APIError: model overloaded"


def test_nothing_listening_cannot_reach():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(BackendError) as err:
        list(OpenAILLM(Settings(openai_base_url=url, openai_timeout=2)).stream(MESSAGES, 8))
    assert str(err.value) == (
        f"cannot reach the LLM endpoint {url}; check NEWSRAG_OPENAI_BASE_URL or use --llm local / extractive"
    )


def test_embedding_errors_name_the_endpoint(srv):
    srv.status = 500
    with pytest.raises(BackendError) as err:
        OpenAIEmbedder(Settings(openai_base_url=srv.base_url)).embed(["x"])
    assert (
        str(err.value)
        == f"the embedding endpoint {srv.base_url} answered HTTP 500: scripted failure HTTP 500"
    )
    srv.reset()
    srv.delay = 30.0
    t0 = time.perf_counter()
    with pytest.raises(BackendError) as err:
        OpenAIEmbedder(Settings(openai_base_url=srv.base_url, openai_timeout=0.5)).embed(["x"])
    assert time.perf_counter() - t0 < 0.5 + 3
    assert str(err.value) == (
        f"the embedding endpoint {srv.base_url} timed out; try again, raise NEWSRAG_OPENAI_TIMEOUT"
    )


def test_ask_surfaces_backend_errors(assistant, srv):
    srv.status = 503
    with pytest.raises(BackendError, match="embedding endpoint"):  # the query is embedded first
        assistant.ask(QUESTION)


def newsrag_ask(data: Path, url: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSRAG_", "OPENAI_"))}
    env.update(
        NEWSRAG_OPENAI_BASE_URL=url, NEWSRAG_OPENAI_TIMEOUT="2", ANONYMIZED_TELEMETRY="False", **env_vars
    )
    newsrag = Path(sys.executable).with_name("newsrag")
    cmd = [str(newsrag)] if newsrag.exists() else [sys.executable, "-c", "from rag.cli import main; main()"]
    return subprocess.run(
        cmd + ["--data-dir", str(data), "ask", QUESTION, "--llm", "openai"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_closed_port_is_one_error_line(demo_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)  # built with the local embedder; --llm openai changes the LLM only
    url = f"http://127.0.0.1:{closed_port()}/v1"
    proc = newsrag_ask(data, url)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: cannot reach the LLM endpoint {url}")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("fault", ["html", "key echoed"])
def test_cli_broken_endpoint_is_one_error_line(demo_data_dir, tmp_path, srv, fault):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    if fault == "html":
        srv.canned = (200, "text/html", HTML)
        expected = f"sent an invalid response: expected JSON/SSE, got text/html ({HTML_SEEN}); {URL_HINT}"
    else:
        srv.canned = (401, "text/plain", "bad credentials: {authorization}")
        expected = (
            "refused the API key (HTTP 401: bad credentials: Bearer [redacted]); "
            "check NEWSRAG_OPENAI_API_KEY (or OPENAI_API_KEY)"
        )
    proc = newsrag_ask(data, srv.base_url, NEWSRAG_OPENAI_API_KEY=KEY)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [f"error: the LLM endpoint {srv.base_url} {expected}"]
    assert srv.chat_requests and KEY not in proc.stderr


# -- 5. embeddings mismatch -------------------------------------------------------------------------
def test_local_index_opened_with_openai_embeddings(demo_data_dir, tmp_path, srv):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    assistant = Assistant(openai_settings(srv, data))
    with pytest.raises(ConfigError) as err:
        assistant.ask(QUESTION)
    assert "'local:all-MiniLM-L6-v2-int8'" in str(err.value)
    assert f"'openai:{EMBED_MODEL}'" in str(err.value)
    assert srv.requests == []  # refused before anything was sent


def test_openai_index_opened_with_local_embeddings(openai_index, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(openai_index[0], data)
    with pytest.raises(
        ConfigError, match=rf"built with embeddings 'openai:{EMBED_MODEL}'.*'local:all-MiniLM"
    ):
        _ = Assistant(Settings(data_dir=data, llm="extractive")).collection


# -- 6. yes/no verdicts from log-probabilities -----------------------------------------------------


def test_yes_no_verdict_comes_from_the_endpoints_logprobs(openai_index, srv):
    srv.top_logprobs = [("No", -0.2), ("Yes", -1.8), (" no", -3.0), ("Ins", -4.0)]
    answer = Assistant(openai_settings(srv, openai_index[0], yes_no="verdict")).ask(YES_NO)
    assert answer.yes_margin == pytest.approx(-1.8 - math.log(math.exp(-0.2) + math.exp(-3.0)))
    assert answer.text.startswith("No [") and answer.answered
    assert answer.citations and all(c.verified for c in answer.citations)
    (chat,) = srv.chat_requests  # one scoring call; the rest is quoted from the sources
    assert (chat.body["logprobs"], chat.body["top_logprobs"], chat.body["max_tokens"]) == (True, 20, 1)
    assert "stream" not in chat.body and YES_NO in chat.body["messages"][1]["content"]


def test_endpoint_without_logprobs_falls_back_to_writing_the_answer(openai_index, srv):
    srv.reset([f"Yes, {COPIED} [1]."])
    answer = Assistant(openai_settings(srv, openai_index[0], yes_no="verdict")).ask(YES_NO)
    assert answer.yes_margin is None
    assert answer.text.startswith("Yes, Russia's foreign ministry")
    assert [r.body.get("logprobs") for r in srv.chat_requests] == [True, None]


def test_auto_mode_lets_an_openai_model_write_yes_no_answers(openai_index, srv):
    srv.top_logprobs = [("No", -0.1)]
    srv.reset([f"Yes, {COPIED} [1]."])
    answer = Assistant(openai_settings(srv, openai_index[0])).ask(YES_NO)
    assert answer.yes_margin is None and answer.text.startswith("Yes, ")
    assert [r.body.get("logprobs") for r in srv.chat_requests] == [None]
