/** Tests of pw_serial: CRC, framing, the peripheral's replies and repeat detection, events, and the host's retries. */
#include "../src/pw_serial.h"

#include <string>
#include <vector>

#include "check.h"

using namespace pw;

struct Log {
  std::vector<CommandArgs> done;
};

static void record(void* ctx, const CommandArgs& c) { static_cast<Log*>(ctx)->done.push_back(c); }

/** Feed a whole string; collect the replies. */
static std::vector<std::string> feed(Peripheral& p, const std::string& bytes) {
  std::vector<std::string> replies;
  char reply[FRAME_MAX + 1];
  for (char c : bytes) {
    size_t n = p.push(static_cast<uint8_t>(c), reply, sizeof reply);
    if (n > 0) replies.push_back(std::string(reply, n));
  }
  return replies;
}

static std::string frame(int seq, const char* body) {
  char out[FRAME_MAX + 1];
  size_t n = encode_frame(out, sizeof out, seq, body);
  return std::string(out, n);
}

static void crc_check_value() {
  const char* nine = "123456789";
  CHECK(crc16(reinterpret_cast<const uint8_t*>(nine), 9) == 0x29B1);
  CHECK(crc16(nullptr, 0) == 0xFFFF);
  // Incremental: the CRC of a prefix continues into the rest.
  uint16_t part = crc16(reinterpret_cast<const uint8_t*>(nine), 4);
  CHECK(crc16(reinterpret_cast<const uint8_t*>(nine + 4), 5, part) == 0x29B1);
}

static void encodes_frames() {
  std::string f = frame(7, "PING");
  uint16_t crc = crc16(reinterpret_cast<const uint8_t*>("07:PING"), 7);
  char want[32];
  snprintf(want, sizeof want, "07:PING*%04X\n", crc);
  CHECK(f == want);
  CHECK(frame(255, "ACK").substr(0, 7) == "FF:ACK*");
  CHECK(frame(SEQ_EVENT, "EVT:BOOT").substr(0, 12) == "~~:EVT:BOOT*");
  CHECK(frame(SEQ_UNTRUSTED, "NAK:CRC").substr(0, 11) == "--:NAK:CRC*");
  CHECK(frame(256, "PING").empty() && frame(-3, "PING").empty());
  CHECK(frame(1, "A*B").empty() && frame(1, "A\nB").empty() && frame(1, "\x7f").empty());
  char out[FRAME_MAX + 1];
  CHECK(encode_frame(out, sizeof out, 1, nullptr) == 0);
  CHECK(encode_frame(nullptr, 10, 1, "PING") == 0);
  CHECK(encode_frame(out, 0, 1, "PING") == 0);
  // "01:PING*XXXX\n" is 13 bytes: 14 with the NUL.
  CHECK(encode_frame(out, 13, 1, "PING") == 0);
  CHECK(encode_frame(out, 14, 1, "PING") == 13);
  // The largest frame: body of 200 - 9 = 191 bytes.
  std::string body(191, 'A');
  CHECK(encode_frame(out, sizeof out, 1, body.c_str()) == FRAME_MAX);
  body += "A";
  CHECK(encode_frame(out, sizeof out, 1, body.c_str()) == 0);
}

static void parses_frames() {
  Frame f;
  std::string s = frame(0x2A, "RLY:1500");
  CHECK(parse_frame(s.c_str(), s.size() - 1, f) == FrameError::None);
  CHECK(f.seq == 0x2A && frame_is(f, "RLY") && f.has_arg && std::string(f.arg, f.arg_len) == "1500");
  std::string cr = s.substr(0, s.size() - 1) + "\r";
  CHECK(parse_frame(cr.c_str(), cr.size(), f) == FrameError::None);
  s = frame(SEQ_EVENT, "EVT:RLY:1");
  CHECK(parse_frame(s.c_str(), s.size() - 1, f) == FrameError::None && f.seq == SEQ_EVENT && frame_is(f, "EVT"));
  CHECK(std::string(f.arg, f.arg_len) == "RLY:1");
  s = frame(3, "TXT:");
  CHECK(parse_frame(s.c_str(), s.size() - 1, f) == FrameError::None && f.has_arg && f.arg_len == 0);
  // Broken lines.
  std::string good = frame(1, "PING");
  std::string bad_crc = good;
  bad_crc[3] = 'X';
  CHECK(parse_frame(bad_crc.c_str(), bad_crc.size() - 1, f) == FrameError::Crc);
  std::string lower = good;
  for (size_t i = 8; i < 12; i++) lower[i] = static_cast<char>(tolower(lower[i]));
  bool had_letter = lower != good;
  CHECK(!had_letter || parse_frame(lower.c_str(), lower.size() - 1, f) == FrameError::Fmt);
  const char* fmt[] = {"", "hello", "01PING*0000", "01:PING", "01:PING*12", "01:PING*12345", "01:PING*GGGG", "0:PING*1234"};
  for (const char* line : fmt) CHECK(parse_frame(line, strlen(line), f) == FrameError::Fmt);
  CHECK(parse_frame(nullptr, 0, f) == FrameError::Fmt);
  // A valid CRC over a bad seq, a lowercase name, a bad separator, a control byte.
  const char* bodies[] = {"zz:PING", "01:ping", "01:PING;X", "01:", "01:PI\x01NG"};
  for (const char* b : bodies) {
    char line[64];
    uint16_t c = crc16(reinterpret_cast<const uint8_t*>(b), strlen(b));
    snprintf(line, sizeof line, "%s*%04X", b, c);
    CHECK(parse_frame(line, strlen(line), f) == FrameError::Fmt);
  }
  std::string too_long(FRAME_MAX, 'A');
  CHECK(parse_frame(too_long.c_str(), too_long.size(), f) == FrameError::Len);
  CHECK_STR(frame_error_name(FrameError::Crc), "CRC");
  CHECK_STR(frame_error_name(FrameError::Len), "LEN");
  CHECK_STR(frame_error_name(FrameError::None), "");
  CHECK_STR(frame_error_name(static_cast<FrameError>(9)), "FMT");
}

static void peripheral_acks_and_executes() {
  Log log;
  Peripheral p(record, &log);
  std::vector<std::string> r = feed(p, frame(1, "PING") + frame(2, "QR:LNURL1ABC") + frame(3, "TXT:hello") + frame(4, "PAID:3000") + frame(5, "CLR") +
                                           frame(6, "RLY:1500") + frame(7, "RLY:0") + frame(8, "TXT:"));
  CHECK(r.size() == 8);
  for (size_t i = 0; i < r.size(); i++) CHECK(r[i] == frame(static_cast<int>(i + 1), "ACK"));
  CHECK(log.done.size() == 8);
  CHECK(log.done[0].command == Command::Ping);
  CHECK(log.done[1].command == Command::Qr && strcmp(log.done[1].text, "LNURL1ABC") == 0);
  CHECK(log.done[2].command == Command::Txt && strcmp(log.done[2].text, "hello") == 0);
  CHECK(log.done[3].command == Command::Paid && log.done[3].ms == 3000);
  CHECK(log.done[4].command == Command::Clr);
  CHECK(log.done[5].command == Command::Rly && log.done[5].ms == 1500);
  CHECK(log.done[6].command == Command::Rly && log.done[6].ms == 0);
  CHECK(log.done[7].command == Command::Txt && log.done[7].text[0] == '\0');
}

static void a_retry_is_acked_but_not_carried_out_again() {
  Log log;
  Peripheral p(record, &log);
  std::string rly = frame(9, "RLY:1000");
  CHECK(feed(p, rly) == std::vector<std::string>{frame(9, "ACK")});
  CHECK(feed(p, rly) == std::vector<std::string>{frame(9, "ACK")});
  CHECK(log.done.size() == 1);
  // Same seq, other command: carried out (a host that wrapped round to the same seq).
  CHECK(feed(p, frame(9, "RLY:2000")) == std::vector<std::string>{frame(9, "ACK")});
  CHECK(log.done.size() == 2);
  // A NAKed command is not remembered: the corrected retry runs.
  CHECK(feed(p, frame(10, "RLY:x")) == std::vector<std::string>{frame(10, "NAK:ARG")});
  CHECK(feed(p, frame(10, "RLY:5")) == std::vector<std::string>{frame(10, "ACK")});
  CHECK(log.done.size() == 3);
  p.forget();
  CHECK(feed(p, frame(10, "RLY:5")) == std::vector<std::string>{frame(10, "ACK")});
  CHECK(log.done.size() == 4);
}

static void naks_broken_lines() {
  Log log;
  Peripheral p(record, &log);
  std::string good = frame(1, "RLY:100");
  std::string corrupt = good;
  corrupt[4] = 'X';  // "01:RXY..." keeps the CRC of "01:RLY..."
  CHECK(feed(p, corrupt) == std::vector<std::string>{frame(SEQ_UNTRUSTED, "NAK:CRC")});
  CHECK(feed(p, "line noise\n") == std::vector<std::string>{frame(SEQ_UNTRUSTED, "NAK:FMT")});
  // Events and NAKs are never answered (no NAK storms); another `--` frame is not a command.
  CHECK(feed(p, frame(SEQ_EVENT, "EVT:BOOT")).empty());
  CHECK(feed(p, frame(SEQ_UNTRUSTED, "NAK:CRC")).empty());
  CHECK(feed(p, frame(5, "NAK:FMT")).empty());
  CHECK(feed(p, frame(SEQ_UNTRUSTED, "PING")) == std::vector<std::string>{frame(SEQ_UNTRUSTED, "NAK:FMT")});
  CHECK(feed(p, frame(2, "NOPE")) == std::vector<std::string>{frame(2, "NAK:CMD")});
  CHECK(feed(p, frame(3, "PING:x")) == std::vector<std::string>{frame(3, "NAK:ARG")});
  CHECK(feed(p, frame(4, "CLR:")) == std::vector<std::string>{frame(4, "NAK:ARG")});
  CHECK(feed(p, frame(5, "QR")) == std::vector<std::string>{frame(5, "NAK:ARG")});
  CHECK(feed(p, frame(6, ("QR:" + std::string(161, 'A')).c_str())) == std::vector<std::string>{frame(6, "NAK:ARG")});
  CHECK(feed(p, frame(6, ("QR:" + std::string(160, 'A')).c_str())) == std::vector<std::string>{frame(6, "ACK")});
  CHECK(feed(p, frame(7, ("TXT:" + std::string(65, 'a')).c_str())) == std::vector<std::string>{frame(7, "NAK:ARG")});
  const char* bad_ms[] = {"PAID:0", "PAID", "PAID:", "PAID:01", "PAID:-1", "PAID:86400001", "RLY:", "RLY:00", "RLY:1.5", "RLY:99999999999", "RLY:+5"};
  for (const char* b : bad_ms) CHECK(feed(p, frame(8, b)) == std::vector<std::string>{frame(8, "NAK:ARG")});
  CHECK(feed(p, frame(8, "PAID:86400000")) == std::vector<std::string>{frame(8, "ACK")});
  CHECK(log.done.size() == 2);
  // Empty lines are not answered; CRLF endings are accepted.
  CHECK(feed(p, "\n\r\n").empty());
  std::string crlf = frame(9, "PING");
  crlf.insert(crlf.size() - 1, "\r");
  CHECK(feed(p, crlf) == std::vector<std::string>{frame(9, "ACK")});
}

static void overlong_lines_are_discarded_to_the_newline() {
  Log log;
  Peripheral p(record, &log);
  std::string flood(1000, 'A');
  CHECK(feed(p, flood).empty());
  CHECK(feed(p, "\n") == std::vector<std::string>{frame(SEQ_UNTRUSTED, "NAK:LEN")});
  // The next frame is read normally.
  CHECK(feed(p, frame(1, "PING")) == std::vector<std::string>{frame(1, "ACK")});
  // Exactly FRAME_MAX bytes with the "\n" fits; one more does not.
  std::string max_frame = frame(2, ("TXT:" + std::string(64, 'b')).c_str());
  CHECK(max_frame.size() <= FRAME_MAX);
  CHECK(feed(p, max_frame) == std::vector<std::string>{frame(2, "ACK")});
  std::string line200(FRAME_MAX, 'C');
  CHECK(feed(p, line200 + "\n") == std::vector<std::string>{frame(SEQ_UNTRUSTED, "NAK:LEN")});
  std::string line199(FRAME_MAX - 1, 'C');
  CHECK(feed(p, line199 + "\n") == std::vector<std::string>{frame(SEQ_UNTRUSTED, "NAK:FMT")});
  LineReader reader;
  for (int i = 0; i < 5; i++) CHECK(reader.push('x') == LineReader::None);
  CHECK(reader.push('\n') == LineReader::Line && reader.length() == 5 && strcmp(reader.line(), "xxxxx") == 0);
}

static void builds_events() {
  char out[FRAME_MAX + 1];
  CHECK(Peripheral::event(out, sizeof out, "BOOT", nullptr) > 0);
  CHECK(std::string(out) == frame(SEQ_EVENT, "EVT:BOOT"));
  CHECK(Peripheral::event(out, sizeof out, "RLY", "1") > 0);
  CHECK(std::string(out) == frame(SEQ_EVENT, "EVT:RLY:1"));
  std::string huge(300, 'A');
  CHECK(Peripheral::event(out, sizeof out, huge.c_str(), nullptr) == 0);
  CHECK(Peripheral::event(out, sizeof out, "X", huge.c_str()) == 0);
}

static HostLink::Reply host_reply(HostLink& h, const std::string& line, uint32_t now) { return h.on_line(line.c_str(), line.size() - 1, now); }

static void host_acks_and_uses_the_next_seq() {
  HostLink h(250, 3);
  CHECK(h.send("PING", 0) > 0 && h.seq() == 0 && h.state() == HostLink::State::Waiting);
  CHECK(std::string(h.frame(), h.frame_length()) == frame(0, "PING"));
  CHECK(h.send("PING", 1) == 0);  // one outstanding at a time
  CHECK(host_reply(h, frame(SEQ_EVENT, "EVT:BOOT"), 5) == HostLink::Reply::Nothing);
  CHECK(host_reply(h, frame(7, "ACK"), 5) == HostLink::Reply::Nothing);  // a late reply to another seq
  CHECK(h.on_line("garbage", 7, 5) == HostLink::Reply::Nothing);
  CHECK(host_reply(h, frame(SEQ_UNTRUSTED, "ACK"), 5) == HostLink::Reply::Nothing);
  CHECK(host_reply(h, frame(0, "ACK"), 10) == HostLink::Reply::Acked && h.state() == HostLink::State::Acked);
  CHECK(host_reply(h, frame(0, "ACK"), 10) == HostLink::Reply::Nothing);
  h.done();
  CHECK(h.send("RLY:5", 20) > 0 && h.seq() == 1);
  CHECK(h.send("BAD*", 20) == 0);
}

static void host_retries_then_gives_up() {
  HostLink h(250, 3);
  h.send("RLY:1000", 0);
  CHECK(!h.poll(249));
  CHECK(h.poll(250) && h.attempts() == 2);  // timeout: same frame again
  CHECK(host_reply(h, frame(SEQ_UNTRUSTED, "NAK:CRC"), 300) == HostLink::Reply::Resend && h.attempts() == 3);
  CHECK(host_reply(h, frame(0, "NAK:CRC"), 310) == HostLink::Reply::Resend && h.attempts() == 4);
  CHECK(std::string(h.frame(), h.frame_length()) == frame(0, "RLY:1000"));  // the same seq every time
  CHECK(!h.poll(559));
  CHECK(!h.poll(560) && h.state() == HostLink::State::Failed);  // 4 attempts, no more
  h.done();
  CHECK(h.send("PING", 600) > 0 && h.seq() == 1);
  CHECK(host_reply(h, frame(1, "NAK:FMT"), 610) == HostLink::Reply::Resend);
  // NAK CMD and ARG are final: no resend, the command fails at once.
  CHECK(host_reply(h, frame(1, "NAK:CMD"), 620) == HostLink::Reply::Failed && h.state() == HostLink::State::Failed);
  h.done();
  h.send("RLY:x", 700);
  CHECK(host_reply(h, frame(2, "NAK:ARG"), 701) == HostLink::Reply::Failed && h.attempts() == 1);
  HostLink once(100, 0);
  once.send("PING", 0);
  CHECK(host_reply(once, frame(0, "NAK:LEN"), 1) == HostLink::Reply::Failed);
  // A session starts where it is told (a random seq).
  HostLink random_start(250, 3, 0xC3);
  CHECK(random_start.send("PING", 0) > 0 && random_start.seq() == 0xC3);
  CHECK(std::string(random_start.frame(), random_start.frame_length()) == frame(0xC3, "PING"));
  // seq wraps at 256.
  HostLink w(10, 0);
  for (int i = 0; i < 256; i++) {
    w.send("PING", 0);
    w.done();
  }
  CHECK(w.send("PING", 0) > 0 && w.seq() == 0);
}

static void host_and_peripheral_talk() {
  Log log;
  Peripheral p(record, &log);
  HostLink h(250, 3);
  h.send("RLY:700", 0);
  std::string sent(h.frame(), h.frame_length());
  // The first copy is corrupted on the wire: the peripheral NAKs, the host resends, one run results.
  std::string corrupted = sent;
  corrupted[5] = '9';
  std::vector<std::string> r = feed(p, corrupted);
  CHECK(r.size() == 1 && host_reply(h, r[0], 5) == HostLink::Reply::Resend);
  r = feed(p, std::string(h.frame(), h.frame_length()));
  CHECK(r.size() == 1 && host_reply(h, r[0], 6) == HostLink::Reply::Acked);
  // The ACK is lost: the host times out and resends; the peripheral ACKs without a second run.
  h.done();
  h.send("RLY:800", 10);
  feed(p, std::string(h.frame(), h.frame_length()));
  CHECK(h.poll(300));
  r = feed(p, std::string(h.frame(), h.frame_length()));
  CHECK(r.size() == 1 && host_reply(h, r[0], 301) == HostLink::Reply::Acked);
  CHECK(log.done.size() == 2 && log.done[0].ms == 700 && log.done[1].ms == 800);
}

void serial_tests() {
  static const TestCase cases[] = {{"CRC-16/CCITT-FALSE check value 29B1", crc_check_value},
                                   {"encodes frames", encodes_frames},
                                   {"parses frames and refuses broken ones", parses_frames},
                                   {"the peripheral ACKs and carries out every command", peripheral_acks_and_executes},
                                   {"a retry is ACKed, not carried out again", a_retry_is_acked_but_not_carried_out_again},
                                   {"broken lines and bad commands are NAKed", naks_broken_lines},
                                   {"overlong lines are discarded to the newline", overlong_lines_are_discarded_to_the_newline},
                                   {"builds events", builds_events},
                                   {"the host ACKs and uses the next seq", host_acks_and_uses_the_next_seq},
                                   {"the host retries 3 times, then gives up; CMD/ARG are final", host_retries_then_gives_up},
                                   {"host and peripheral: NAK and retry, lost ACK", host_and_peripheral_talk}};
  run_suite("serial", cases, sizeof cases / sizeof cases[0]);
}
