"""AddressBook: servers and peers learned from XFR, RNG and invitations."""

from __future__ import annotations

from providers.msnp import AddressBook, MsnpStreamParser, parse_msg, split_host_port


def one(line: bytes):
    (command,) = MsnpStreamParser().feed(line)
    return command


def test_xfr_sb_and_rng_teach_switchboards():
    """XFR SB and RNG announce switchboard addresses with their cookies."""
    book = AddressBook()
    book.observe(one(b"XFR 9 SB 127.0.0.3:1864 CKI 17.3.5\r\n"))
    book.observe(one(b"RNG 1175 127.0.0.4:2000 CKI 8491.52 a@b.c A\r\n"))
    assert book.role_of("127.0.0.3", 1864) == "switchboard"
    assert book.lookup("127.0.0.3", 1864).cookie == "17.3.5"
    assert book.lookup("127.0.0.4", 2000).verb == "RNG"
    assert book.role_of("127.0.0.4", 1864) is None


def test_xfr_ns_teaches_a_notification_server():
    """An XFR NS redirect names the notification server."""
    book = AddressBook()
    learned = book.observe(one(b"XFR 3 NS 127.0.0.2:1863 0 127.0.0.1:1863\r\n"))
    assert [(a.role, a.host, a.port) for a in learned] == [("notification", "127.0.0.2", 1863)]


def test_invitation_teaches_a_direct_peer():
    """A file-transfer invitation's IP-Address and Port name a direct peer endpoint."""
    body = b"Content-Type: text/x-msmsgsinvite\r\n\r\nIP-Address: 127.0.0.9\r\nPort: 6891\r\n"
    command = one(b"MSG 4 N %d\r\n%s" % (len(body), body))
    book = AddressBook()
    book.observe(command, parse_msg(command))
    assert book.role_of("127.0.0.9", 6891) == "direct"


def test_capacity_forgets_the_oldest():
    """The book is bounded; the oldest announcements go first."""
    book = AddressBook(capacity=2)
    for port in (2001, 2002, 2003):
        book.observe(one(b"XFR 9 SB 127.0.0.3:%d CKI x\r\n" % port))
    assert len(book) == 2 and book.role_of("127.0.0.3", 2001) is None


def test_split_host_port_forms():
    """Host:port, bracketed IPv6, a bare host and junk are all handled."""
    assert split_host_port("10.0.0.1:1863") == ("10.0.0.1", 1863)
    assert split_host_port("[::1]:1864") == ("::1", 1864)
    assert split_host_port("messenger.hotmail.com") == ("messenger.hotmail.com", 1863)
    assert split_host_port("10.0.0.1:99999") is None
    assert split_host_port("10.0.0.1:" + "1" * 5000) is None
