"""`scrub`'s output read by responders with the commands they use on Kafka (``--from DIR``), and the
promise behind it: no key in the output folder, and no line readable once its key is dead."""

from __future__ import annotations

import base64
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from logscrub.cli.main import main
from logscrub.crypto import keyring, subjects
from logscrub.crypto.keyfile import KeyFile

ALICE, BOB = "198.51.100.77", "2001:db8:77::5"
KID = re.compile(rb"(?:visitor|data)-\d{8}T\d{6}-[0-9a-f]{8}")


def line(ip: str, path: str, when: datetime, status: int = 200) -> str:
    t = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{t}] "GET {path} HTTP/1.1" {status} 5 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"'


def write_log(path: Path, when: datetime) -> dict[str, list[str]]:
    by_client = {
        ALICE: [line(ALICE, f"/alice/{i}", when) for i in range(3)] + [f"{ALICE} - - [broken"],
        BOB: [line(BOB, f"/bob/{i}", when, 404) for i in range(2)],
        "203.0.113.9": [line("203.0.113.9", "/c", when)],
    }
    path.write_text("".join(x + "\n" for lines in by_client.values() for x in lines))
    return by_client


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("LOGSCRUB_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def search(capsys, out: Path, *args: str) -> tuple[list[dict], str]:
    code, stdout, stderr = run(capsys, "security", "search", "--from", str(out), *args)
    assert code == 0, stderr
    return [orjson.loads(x) for x in stdout.splitlines()], stderr


def test_scrub_leaves_no_key_material_and_no_foreign_key_id_in_its_output(env, capsys, monkeypatch, state_home):
    made: list[bytes] = []  # every secret made during the run: visitor, data and subject keys
    token_bytes = keyring.secrets.token_bytes
    monkeypatch.setattr(keyring.secrets, "token_bytes", lambda n: made.append(token_bytes(n)) or made[-1])
    subject_secret = subjects.SubjectKeys._secret
    monkeypatch.setattr(subjects.SubjectKeys, "_secret", lambda self: made.append(subject_secret(self)) or made[-1])
    log = env / "access.log"
    now = datetime.now(UTC)
    write_log(log, now)
    with open(log, "a") as f:  # last week's lines too: their visitor key is made and never stored
        f.writelines(line(f"192.0.2.{i}", "/old", now - timedelta(days=7)) + "\n" for i in range(5))
    out = env / "out"
    code, _, err = run(capsys, "scrub", str(log), "--out", str(out))
    assert code == 0, err

    keys = KeyFile(state_home / "logscrub" / "keys.json").read()
    # Subject keys from the keys file (the compiled core makes them where no patch reaches), the
    # others as the run made them: two visitor keys (today, last week) and a data key.
    data_keys = {key.kid: key for key in keys.live("data", time.time())}
    subject_secrets = [
        subjects.unwrap(data_keys[data_kid], subjects.subject_record(data_kid, skid), w)
        for data_kid, held in keys.subjects.items() for skid, w in held.items()
    ]
    assert len(subject_secrets) == 8 and None not in subject_secrets  # a subject key per client
    secrets = [s for s in made if len(s) == keyring.KEY_BYTES and s not in subject_secrets]
    assert len(secrets) == 2 + 1
    secrets += subject_secrets
    forms = [f(s) for s in secrets for f in (
        bytes, base64.b64encode, base64.urlsafe_b64encode, lambda s: base64.b64encode(s).rstrip(b"="),
        lambda s: s.hex().encode(), lambda s: s.hex().upper().encode(),
    )]  # fmt: skip
    wrapped = [base64.b64encode(w) for held in keys.subjects.values() for w in held.values()]
    assert len(wrapped) == 8
    skids = {skid for held in keys.subjects.values() for skid in held}
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "analytics.events.jsonl", "analytics.traffic.jsonl", "logs.rejected.jsonl", "security.raw.jsonl"
    ]
    for f in files:
        data = f.read_bytes()
        for form in forms + wrapped:
            assert form not in data, f.name
        # Key ids only where an envelope names its own data key ("kid"); subject key ids never.
        sealed = f.name in ("security.raw.jsonl", "logs.rejected.jsonl")
        envelopes = [orjson.loads(x) for x in data.splitlines()] if sealed else []
        assert sorted(KID.findall(data)) == sorted(e["kid"].encode() for e in envelopes)
        assert all(e["kid"].startswith("data-") for e in envelopes)
        for skid in skids:
            assert skid.encode() not in data, f.name


def test_search_opens_lines_until_their_key_dies_and_none_after(env, capsys, monkeypatch, state_home):
    monkeypatch.setenv("LOGSCRUB_SECURITY__WINDOW", "6s")
    monkeypatch.setenv("LOGSCRUB_KEYS__DATA_ROTATION", "1s")
    log, out = env / "access.log", env / "out"
    by_client = write_log(log, datetime.now(UTC))
    assert run(capsys, "scrub", str(log), "--out", str(out))[0] == 0
    keys_file = state_home / "logscrub" / "keys.json"
    (data_key,) = KeyFile(keys_file).read().live("data", time.time())

    found, summary = search(capsys, out, "--ip", ALICE)
    assert sorted(r["line"] for r in found) == sorted(by_client[ALICE])  # its rejected line too
    assert {r["topic"] for r in found} == {"security.raw", "logs.rejected"}
    assert {r["partition"] for r in found} == {None}
    assert all((out / f"{r['topic']}.jsonl").read_text().splitlines()[r["offset"] - 1] for r in found)
    assert len(search(capsys, out)[0]) == 7

    time.sleep(max(data_key.expires - time.time(), 0) + 0.1)
    found, summary = search(capsys, out)
    assert found == [] and "7 not opened: key destroyed" in summary
    left = KeyFile(keys_file).read()  # the search removed the dead key and its subject keys from disk
    assert "data" not in left.keys and not left.subjects and data_key.kid not in keys_file.read_text()


def test_keys_expire_removes_dead_keys_from_disk(env, capsys, monkeypatch, state_home):
    monkeypatch.setenv("LOGSCRUB_SECURITY__WINDOW", "2s")
    monkeypatch.setenv("LOGSCRUB_KEYS__DATA_ROTATION", "1s")
    log = env / "access.log"
    write_log(log, datetime.now(UTC) - timedelta(days=3))
    assert run(capsys, "scrub", str(log), "--out", str(env / "out"))[0] == 0
    keys_file = state_home / "logscrub" / "keys.json"
    text = keys_file.read_text()
    assert "data-" in text and "visitor-" not in text  # three days ago: no visitor key kept
    time.sleep(2.1)
    code, _, err = run(capsys, "keys", "expire")
    assert code == 0 and "4 keys and subject keys removed; 0 live keys remain" in err  # the data key and 3 subject keys
    assert keys_file.read_bytes() == b""
    assert sorted(p.name for p in keys_file.parent.iterdir()) == ["keys.json"]


def test_erasure_makes_one_address_unreadable_and_leaves_the_others(env, capsys, state_home):
    log, out = env / "access.log", env / "out"
    by_client = write_log(log, datetime.now(UTC))
    assert run(capsys, "scrub", str(log), "--out", str(out))[0] == 0
    keys_file = state_home / "logscrub" / "keys.json"
    before = KeyFile(keys_file).read().subjects
    outputs = {p.name: p.read_bytes() for p in out.iterdir()}

    code, _, err = run(capsys, "subject", "erase", "--from", str(out), "--ip", ALICE)
    assert code == 0 and "erased: 1 subject keys in 1 periods" in err, err
    after = KeyFile(keys_file).read()
    (kid,) = before
    alice = subjects.subject_id(after.live("data", time.time())[0], bytes([198, 51, 100, 77]))
    (gone,) = set(before[kid]) - set(after.subjects[kid])
    assert gone.startswith(alice + ".")  # exactly Alice's key left the file, and its bytes with it
    assert base64.b64encode(before[kid][gone]) not in keys_file.read_bytes()

    found, summary = search(capsys, out, "--ip", ALICE)
    assert found == [] and "4 not opened: subject erased" in summary and "this address was erased at" in summary
    found, _ = search(capsys, out, "--ip", "2001:db8:77::/48")
    assert sorted(r["line"] for r in found) == sorted(by_client[BOB])
    code, stdout, _ = run(capsys, "subject", "export", "--from", str(out), "--ip", BOB)
    assert code == 0 and len(orjson.loads(stdout)["records"]) == 2
    code, stdout, _ = run(capsys, "subject", "export", "--from", str(out), "--ip", ALICE)
    doc = orjson.loads(stdout)
    assert doc["records"] == [] and len(doc["erased_periods"]) == 1

    assert {p.name: p.read_bytes() for p in out.iterdir()} == outputs  # nothing written beside the outputs
    trail = (state_home / "logscrub" / "keys.audit.jsonl").read_bytes()
    commands = [orjson.loads(x)["command"] for x in trail.splitlines()]
    assert commands == ["subject erase", "security search", "security search", "subject export", "subject export"]
    for address in (ALICE, BOB, "198.51.100", "2001:db8"):
        assert address.encode() not in trail  # addresses are keyed hashes in the trail


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keys", "{out}/keys.json"], "inside"),
        (["--keys", "{tmp}/open/keys.json"], "open to other users"),
        (["--keys", "{tmp}/keys.json", "--out", "{tmp}/out2"], "inside"),
    ],
)
def test_scrub_refuses_keys_beside_outputs_in_one_line_and_writes_nothing(env, capsys, args, message):
    (env / "open").mkdir(mode=0o755)
    os.chmod(env / "open", 0o755)
    os.chmod(env, 0o700)
    log = env / "access.log"
    write_log(log, datetime.now(UTC))
    argv = ["scrub", str(log), "--out", str(env / "out"), *args] if "--out" not in args else ["scrub", str(log), *args]
    code, _, err = run(capsys, *(a.format(out=env / "out", tmp=env) for a in argv))
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (env / "out").exists() and not (env / "out2").exists()


def test_responder_mistakes_are_one_line(env, capsys, state_home):
    code, _, err = run(capsys, "security", "search", "--keys", str(env / "k.json"))
    assert code == 2 and "--keys goes with --from" in err and err.count("\n") == 1
    code, _, err = run(capsys, "security", "search", "--from", str(env))
    assert code == 2 and "not an output folder" in err and err.count("\n") == 1
    log, out = env / "access.log", env / "out"
    write_log(log, datetime.now(UTC))
    assert run(capsys, "scrub", str(log), "--out", str(out), "--keys", str(env / "k" / "keys.json"))[0] == 0
    code, _, err = run(capsys, "security", "search", "--from", str(out))  # the default keys file: none there
    assert code == 2 and "no keys file" in err and err.count("\n") == 1
    found, _ = search(capsys, out, "--keys", str(env / "k" / "keys.json"))
    assert len(found) == 7
