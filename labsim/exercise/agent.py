"""The mail client that labsim runs *inside* a PC (python3 -c, standard library only).

It speaks SMTP and POP3 itself so that every line of the dialogue can be shown to the student,
asks dig what the PC's resolver answers, and follows Postfix's log in the journal. It takes one
JSON argument and prints one JSON object.
"""

import json
import socket
import subprocess
import sys
import time


def _kind(err):
    text = str(err)
    if isinstance(err, ConnectionRefusedError) or "refused" in text:
        return "refused"
    if isinstance(err, socket.timeout) or "timed out" in text:
        return "timeout"
    if "No route" in text or "unreachable" in text.lower():
        return "no_route"
    if isinstance(err, socket.gaierror):
        return "resolve"
    return "error"


class Conversation:
    """A line-based TCP dialogue, every line kept with its direction and time."""

    def __init__(self, server, port, timeout):
        self.t0 = time.monotonic()
        self.dialogue = []
        self.timings = {}
        t = time.monotonic()
        self.address = socket.getaddrinfo(server, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
        self.timings["resolve"] = round(time.monotonic() - t, 4)
        t = time.monotonic()
        self.sock = socket.create_connection((self.address, port), timeout=timeout)
        self.timings["connect"] = round(time.monotonic() - t, 4)
        self.file = self.sock.makefile("rb")

    def _stamp(self):
        return round(time.monotonic() - self.t0, 4)

    def send(self, line, shown=None):
        self.sock.sendall(line.encode() + b"\r\n")
        self.dialogue.append(["C", shown if shown is not None else line, self._stamp()])

    def send_data(self, text, lines_shown):
        body = text.replace("\r\n", "\n").split("\n")
        out = []
        for line in body:
            out.append("." + line if line.startswith(".") else line)
        self.sock.sendall(("\r\n".join(out) + "\r\n.\r\n").encode())
        for line in lines_shown:
            self.dialogue.append(["C", line, self._stamp()])
        self.dialogue.append(["C", ".", self._stamp()])

    def line(self):
        raw = self.file.readline()
        if not raw:
            raise ConnectionError("connection closed by the server")
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.dialogue.append(["S", text, self._stamp()])
        return text

    def smtp_reply(self):
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return int(lines[-1][:3]), lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def op_smtp(a):
    result = {"ok": False, "dialogue": [], "timings": {}}
    t0 = time.monotonic()
    try:
        conv = Conversation(a["server"], a.get("port", 25), a.get("timeout", 10))
    except Exception as err:
        result.update(stage="connect", kind=_kind(err), error=str(err))
        return result
    result["address"] = conv.address
    try:
        code, _ = conv.smtp_reply()
        steps = [
            ("EHLO " + a["helo"], 250),
            ("MAIL FROM:<" + a["mail_from"] + ">", 250),
            ("RCPT TO:<" + a["rcpt_to"] + ">", 250),
            ("DATA", 354),
        ]
        if code != 220:
            raise RuntimeError("banner")
        for command, expect in steps:
            conv.send(command)
            code, lines = conv.smtp_reply()
            if code != expect:
                result.update(stage="smtp", kind="rejected", error=lines[-1], command=command)
                conv.send("QUIT")
                return result
        shown = a["message"].replace("\r\n", "\n").split("\n")
        conv.send_data(a["message"], shown)
        code, lines = conv.smtp_reply()
        if code != 250:
            result.update(stage="smtp", kind="rejected", error=lines[-1], command="DATA")
            return result
        final = lines[-1]
        if "queued as " in final:
            result["queue_id"] = final.rsplit("queued as ", 1)[1].strip()
        conv.send("QUIT")
        conv.smtp_reply()
        result["ok"] = True
    except Exception as err:
        result.update(stage=result.get("stage", "smtp"), kind=_kind(err), error=str(err))
    finally:
        result["dialogue"] = conv.dialogue
        result["timings"] = dict(conv.timings, total=round(time.monotonic() - t0, 4))
        conv.close()
    return result


def _pop_ok(conv, command, shown=None):
    conv.send(command, shown)
    reply = conv.line()
    return reply.startswith("+OK"), reply


def _pop_multiline(conv):
    lines = []
    while True:
        raw = conv.file.readline()
        if not raw:
            raise ConnectionError("connection closed by the server")
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if text == ".":
            break
        lines.append(text[1:] if text.startswith("..") else text)
    return lines


def op_pop3(a):
    result = {"ok": False, "dialogue": [], "timings": {}}
    t0 = time.monotonic()
    deadline = t0 + a.get("wait", 0)
    while True:
        try:
            conv = Conversation(a["server"], a.get("port", 110), a.get("timeout", 10))
        except Exception as err:
            result.update(stage="connect", kind=_kind(err), error=str(err))
            return result
        result["address"] = conv.address
        try:
            banner = conv.line()
            if not banner.startswith("+OK"):
                raise RuntimeError(banner)
            ok, reply = _pop_ok(conv, "USER " + a["user"])
            ok2, reply2 = _pop_ok(conv, "PASS " + a["password"], "PASS " + "*" * 8)
            if not (ok and ok2):
                result.update(stage="login", kind="login", error=reply2 if ok else reply)
                conv.send("QUIT")
                return result
            ok, stat = _pop_ok(conv, "STAT")
            count = int(stat.split()[1])
            result["count"] = count
            wanted = a.get("message_id")
            if not wanted:
                conv.send("QUIT")
                conv.line()
                result["ok"] = True
                return result
            for n in range(count, 0, -1):
                ok, reply = _pop_ok(conv, "TOP %d 0" % n)
                headers = _pop_multiline(conv)
                conv.dialogue.append(["S", "(%d header lines)" % len(headers), conv._stamp()])
                if any(h.lower().startswith("message-id:") and wanted in h for h in headers):
                    ok, reply = _pop_ok(conv, "RETR %d" % n)
                    message = _pop_multiline(conv)
                    conv.dialogue.append(["S", "(%d lines of message)" % len(message), conv._stamp()])
                    conv.dialogue.append(["S", ".", conv._stamp()])
                    result["message"] = "\n".join(message)
                    break
            conv.send("QUIT")
            conv.line()
            if "message" in result:
                result["ok"] = True
                return result
            if time.monotonic() >= deadline:
                result.update(stage="retrieve", kind="missing", error="message %s is not in the mailbox" % wanted)
                return result
            time.sleep(0.1)
        except Exception as err:
            result.update(stage=result.get("stage", "pop3"), kind=_kind(err), error=str(err))
            return result
        finally:
            result["dialogue"] = conv.dialogue
            result["timings"] = dict(conv.timings, total=round(time.monotonic() - t0, 4))
            conv.close()


def op_follow(a):
    """Wait in the journal for a message's final status line (sent, deferred, bounced) for one recipient.

    The message is found by its queue id, or, when only its Message-ID is known (the receiving side,
    started before the message arrives), by the cleanup line that names the Message-ID. The journal is
    read, not followed: `journalctl -f` learns of new entries up to half a second late, while an entry
    is readable the moment journald has it. Reads back off from 10 ms to 250 ms.
    """
    qid = a.get("qid")
    wanted_mid = a.get("message_id")
    deadline = time.monotonic() + a.get("timeout", 30)
    argv = ["journalctl", "-o", "short-iso-precise", "--no-pager", "--since", a.get("since", "-10min"), "SYSLOG_FACILITY=2"]
    status = None
    seen = []
    pause = 0.01
    while True:
        seen = subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()
        for text in seen:
            if qid is None and wanted_mid and ("message-id=" + wanted_mid) in text and "]: " in text:
                qid = text.split("]: ", 1)[1].split(":", 1)[0]
            if qid and (qid + ":") in text and "status=" in text and ("to=<" + a.get("rcpt", "")) in text:
                status = text.split("status=", 1)[1].split(" ", 1)[0]
                break
        if status is not None or time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(0.25, pause * 1.5)
    lines = [line for line in seen if qid and (qid + ":") in line]
    if status is not None:
        lines = lines[: next(i for i, line in enumerate(lines) if "status=" in line and ("to=<" + a.get("rcpt", "")) in line) + 1]
    return {"ok": status == "sent", "status": status or "timeout", "lines": lines, "qid": qid}


def _dig_start(queries):
    """Start one dig process for all the queries (it runs while the caller does something else)."""
    argv = ["dig", "+time=2", "+tries=1"]
    for name, rtype in queries:
        argv += [name, rtype]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True), time.monotonic()


def _dig_finish(started, queries):
    """The answers of a started dig, as dig shows them."""
    proc, t = started
    out = proc.communicate()[0]
    seconds = round(time.monotonic() - t, 4)
    answers = []
    section = None
    for line in out.splitlines():
        if "->>HEADER<<-" in line:
            status = line.split("status:", 1)[1].split(",")[0].strip() if "status:" in line else "no answer"
            answers.append({"status": status, "answer": []})
            section = None
        elif line.startswith(";; ANSWER SECTION"):
            section = "answer"
        elif line.startswith(";;"):
            section = None
        elif section == "answer" and line.strip() and answers:
            answers[-1]["answer"].append(" ".join(line.split()))
    while len(answers) < len(queries):
        answers.append({"status": "no answer", "answer": []})
    for (name, rtype), answer in zip(queries, answers):
        answer.update(name=name, type=rtype, seconds=round(seconds / len(queries), 4))
    return {"ok": True, "answers": answers}


def op_dig(a):
    """Ask the PC's resolver, with one dig process for all the queries; answers as dig shows them."""
    return _dig_finish(_dig_start(a["queries"]), a["queries"])


def op_smtp_batch(a):
    """Submit many messages over one SMTP session (the matrix workload)."""
    result = {"ok": False, "accepted": [], "refused": [], "timings": {}}
    t0 = time.monotonic()
    try:
        conv = Conversation(a["server"], a.get("port", 25), a.get("timeout", 10))
    except Exception as err:
        result.update(stage="connect", kind=_kind(err), error=str(err))
        return result
    try:
        code, _ = conv.smtp_reply()
        conv.send("EHLO " + a["helo"])
        conv.smtp_reply()
        for m in a["messages"]:
            ok = True
            for command, expect in (("MAIL FROM:<" + m["mail_from"] + ">", 250), ("RCPT TO:<" + m["rcpt_to"] + ">", 250), ("DATA", 354)):
                conv.send(command)
                code, lines = conv.smtp_reply()
                if code != expect:
                    ok = False
                    result["refused"].append([m["id"], lines[-1]])
                    conv.send("RSET")
                    conv.smtp_reply()
                    break
            if not ok:
                continue
            conv.send_data(m["message"], [])
            code, lines = conv.smtp_reply()
            if code == 250:
                result["accepted"].append(m["id"])
            else:
                result["refused"].append([m["id"], lines[-1]])
        conv.send("QUIT")
        conv.smtp_reply()
        result["ok"] = not result["refused"]
    except Exception as err:
        result.update(stage="smtp", kind=_kind(err), error=str(err))
    finally:
        result["timings"] = {"total": round(time.monotonic() - t0, 4)}
        conv.close()
    return result


def _maildir_ids(maildir, seen):
    """Message-IDs of the messages in a Maildir (new and cur) not read before; ``seen`` caches by file."""
    import os

    for sub in ("new", "cur"):
        path = os.path.join(maildir, sub)
        try:
            names = os.listdir(path)
        except FileNotFoundError:
            continue
        for name in names:
            key = name.split(":", 1)[0]
            if key in seen:
                continue
            try:
                with open(os.path.join(path, name), "rb") as f:
                    head = f.read(8192).decode("utf-8", "replace")
            except FileNotFoundError:
                continue  # moved from new to cur meanwhile: found next round
            mid = ""
            for line in head.split("\n"):
                if not line.strip():
                    break
                if line.lower().startswith("message-id:"):
                    mid = line.split(":", 1)[1].strip()
            seen[key] = mid


def op_pop3_collect(a):
    """Wait until every expected Message-ID is in the user's Maildir (reading the directory, backing off
    from 10 ms to 250 ms), then verify them all in one POP3 session (STAT, TOP n 0 for each message)."""
    import os

    wanted = set(a["message_ids"])
    deadline = time.monotonic() + a.get("timeout", 60)
    seen = {}
    pause = 0.01
    maildir = os.path.join(os.path.expanduser("~"), "Maildir")
    while True:
        _maildir_ids(maildir, seen)
        if wanted <= set(seen.values()) or time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(0.25, pause * 1.5)
    found = set()
    error = ""
    try:
        conv = Conversation(a["server"], a.get("port", 110), 10)
        try:
            conv.line()
            ok, reply = _pop_ok(conv, "USER " + a["user"])
            ok2, reply2 = _pop_ok(conv, "PASS " + a["password"], "PASS ********")
            if ok and ok2:
                ok, stat = _pop_ok(conv, "STAT")
                for n in range(1, int(stat.split()[1]) + 1):
                    _pop_ok(conv, "TOP %d 0" % n)
                    for h in _pop_multiline(conv):
                        if h.lower().startswith("message-id:"):
                            found.add(h.split(":", 1)[1].strip())
                conv.send("QUIT")
                conv.line()
            else:
                error = reply2 if ok else reply
        finally:
            conv.close()
    except Exception as err:
        error = str(err)
    return {"ok": wanted <= found, "found": sorted(wanted & found), "missing": sorted(wanted - found),
            "in_maildir": len(wanted & set(seen.values())), "error": error}


def _as_user(user, fn, arg):
    """Run fn(arg) in a child process that has become ``user`` (the student), return its JSON result."""
    import os
    import pwd

    if not user:
        return fn(arg)
    entry = pwd.getpwnam(user)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            os.initgroups(user, entry.pw_gid)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
            out = json.dumps(fn(arg))
        except Exception as err:
            out = json.dumps({"ok": False, "kind": "error", "error": str(err), "dialogue": [], "timings": {}})
        with os.fdopen(write_end, "w") as f:
            f.write(out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def op_submit(a):
    """Sender's side in one process: what DNS says, the SMTP submission (as the student), then Postfix's relay.
    dig runs alongside the submission (it only reports what the resolver says; SMTP resolves by itself)."""
    dig = _dig_start(a["queries"])
    result = {"smtp": _as_user(a.get("user"), op_smtp, a["smtp"])}
    result["dig"] = _dig_finish(dig, a["queries"])
    qid = result["smtp"].get("queue_id")
    if result["smtp"]["ok"] and qid:
        result["follow"] = op_follow(dict(a["follow"], qid=qid))
    return result


def op_receive(a):
    """Recipient's side in one process: Postfix's delivery of the queue id, then the POP3 retrieval;
    with "then", the reply is submitted (op_submit) once the message has been read."""
    result = {"follow": op_follow(a["follow"])}
    if result["follow"]["ok"]:
        result["pop3"] = _as_user(a.get("user"), op_pop3, a["pop3"])
        if a.get("then") and result["pop3"].get("ok"):
            result["then"] = op_submit(a["then"])
    return result


def main():
    args = json.loads(sys.argv[1])
    ops = {"smtp": op_smtp, "pop3": op_pop3, "follow": op_follow, "dig": op_dig, "smtp_batch": op_smtp_batch,
           "pop3_collect": op_pop3_collect, "submit": op_submit, "receive": op_receive}
    print(json.dumps(ops[args["op"]](args)))


if __name__ == "__main__":
    main()
