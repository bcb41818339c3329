/** The serial protocol v1 (device/PROTOCOL.md): framing, CRC, the peripheral's replies and the host's retries. */
#include "pw_serial.h"

#include <string.h>

namespace pw {

static const char HEX_DIGITS[] = "0123456789ABCDEF";

uint16_t crc16(const uint8_t* data, size_t len, uint16_t crc) {
  for (size_t i = 0; i < len; i++) {
    crc = static_cast<uint16_t>(crc ^ (static_cast<uint16_t>(data[i]) << 8));
    for (uint8_t bit = 0; bit < 8; bit++) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021) : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

static bool arg_char(char c) { return c >= 0x20 && c <= 0x7E && c != '*'; }

size_t encode_frame(char* out, size_t cap, int seq, const char* body) {
  if (out == nullptr || cap == 0) return 0;
  out[0] = '\0';
  if (body == nullptr || seq < SEQ_UNTRUSTED || seq > 255) return 0;
  size_t body_len = strlen(body);
  // seq (2) + ':' + body + '*' + crc (4) + '\n'
  size_t total = 2 + 1 + body_len + 1 + 4 + 1;
  if (total > FRAME_MAX || total + 1 > cap) return 0;
  for (size_t i = 0; i < body_len; i++) {
    if (!arg_char(body[i])) return 0;
  }
  if (seq == SEQ_EVENT) {
    out[0] = '~';
    out[1] = '~';
  } else if (seq == SEQ_UNTRUSTED) {
    out[0] = '-';
    out[1] = '-';
  } else {
    out[0] = HEX_DIGITS[(seq >> 4) & 0xF];
    out[1] = HEX_DIGITS[seq & 0xF];
  }
  out[2] = ':';
  memcpy(out + 3, body, body_len);
  size_t pos = 3 + body_len;
  uint16_t crc = crc16(reinterpret_cast<const uint8_t*>(out), pos);
  out[pos++] = '*';
  for (int shift = 12; shift >= 0; shift -= 4) out[pos++] = HEX_DIGITS[(crc >> shift) & 0xF];
  out[pos++] = '\n';
  out[pos] = '\0';
  return pos;
}

const char* frame_error_name(FrameError error) {
  switch (error) {
    case FrameError::None: return "";
    case FrameError::Crc: return "CRC";
    case FrameError::Fmt: return "FMT";
    case FrameError::Len: return "LEN";
  }
  return "FMT";
}

static int upper_hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

FrameError parse_frame(const char* line, size_t len, Frame& out) {
  memset(&out, 0, sizeof out);
  out.seq = SEQ_UNTRUSTED;
  if (line == nullptr) return FrameError::Fmt;
  if (len > 0 && line[len - 1] == '\r') len--;
  if (len + 1 > FRAME_MAX) return FrameError::Len;
  // seq ":" NAME "*" crc: at least 2 + 1 + 1 + 1 + 4 bytes.
  if (len < 9 || line[2] != ':') return FrameError::Fmt;
  const char* star = static_cast<const char*>(memchr(line, '*', len));
  if (star == nullptr || static_cast<size_t>(line + len - star) != 5) return FrameError::Fmt;
  uint16_t crc = 0;
  for (int i = 1; i <= 4; i++) {
    int h = upper_hex(star[i]);
    if (h < 0) return FrameError::Fmt;
    crc = static_cast<uint16_t>((crc << 4) | static_cast<uint16_t>(h));
  }
  size_t covered = static_cast<size_t>(star - line);
  for (size_t i = 0; i < covered; i++) {
    // Only printable ASCII between seq and "*" (a NUL or a control byte is noise, not a frame).
    if (line[i] < 0x20 || line[i] > 0x7E) return FrameError::Fmt;
  }
  if (crc16(reinterpret_cast<const uint8_t*>(line), covered) != crc) return FrameError::Crc;
  int hi = upper_hex(line[0]);
  int lo = upper_hex(line[1]);
  if (hi >= 0 && lo >= 0) {
    out.seq = hi * 16 + lo;
  } else if (line[0] == '~' && line[1] == '~') {
    out.seq = SEQ_EVENT;
  } else if (line[0] == '-' && line[1] == '-') {
    out.seq = SEQ_UNTRUSTED;
  } else {
    return FrameError::Fmt;
  }
  out.crc = crc;
  const char* body = line + 3;
  size_t body_len = covered - 3;
  size_t n = 0;
  while (n < body_len && body[n] >= 'A' && body[n] <= 'Z') n++;
  if (n == 0) return FrameError::Fmt;
  out.name = body;
  out.name_len = n;
  if (n < body_len) {
    if (body[n] != ':') return FrameError::Fmt;
    out.has_arg = true;
    out.arg = body + n + 1;
    out.arg_len = body_len - n - 1;
  } else {
    out.arg = body + n;
    out.arg_len = 0;
  }
  return FrameError::None;
}

bool frame_is(const Frame& frame, const char* name) { return frame.name != nullptr && strlen(name) == frame.name_len && memcmp(frame.name, name, frame.name_len) == 0; }

LineReader::Result LineReader::push(uint8_t byte) {
  if (ready_) {
    ready_ = false;
    len_ = 0;
  }
  if (byte == '\n') {
    bool overflowed = overflow_;
    overflow_ = false;
    buf_[len_ < FRAME_MAX ? len_ : FRAME_MAX] = '\0';
    if (overflowed) {
      len_ = 0;
      return Overflow;
    }
    ready_ = true;
    return Line;
  }
  if (overflow_) return None;
  if (len_ >= FRAME_MAX) {
    // FRAME_MAX bytes without a "\n" cannot be a frame of at most FRAME_MAX bytes including it (a "\r" aside).
    overflow_ = true;
    len_ = 0;
    return None;
  }
  buf_[len_++] = static_cast<char>(byte);
  return None;
}

/** A decimal without sign or leading zeros (except "0" itself), at most `max`. */
static bool parse_ms(const char* s, size_t len, uint32_t max, uint32_t* out) {
  if (len == 0 || len > 10 || (len > 1 && s[0] == '0')) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

/** FrameError::None, or Fmt for an unknown command (CMD) / Len for a bad argument (ARG): see reply(). */
enum class CommandError : uint8_t { None, Cmd, Arg };

static CommandError command_of(const Frame& f, CommandArgs& args) {
  memset(&args, 0, sizeof args);
  if (frame_is(f, "PING") || frame_is(f, "CLR")) {
    args.command = frame_is(f, "PING") ? Command::Ping : Command::Clr;
    return f.has_arg ? CommandError::Arg : CommandError::None;
  }
  if (frame_is(f, "QR") || frame_is(f, "TXT")) {
    bool qr = frame_is(f, "QR");
    args.command = qr ? Command::Qr : Command::Txt;
    size_t min = qr ? 1 : 0;
    size_t max = qr ? 160 : 64;
    if (f.arg_len < min || f.arg_len > max) return CommandError::Arg;
    memcpy(args.text, f.arg, f.arg_len);
    args.text[f.arg_len] = '\0';
    return CommandError::None;
  }
  if (frame_is(f, "PAID") || frame_is(f, "RLY")) {
    bool paid = frame_is(f, "PAID");
    args.command = paid ? Command::Paid : Command::Rly;
    if (!parse_ms(f.arg, f.arg_len, 86400000UL, &args.ms)) return CommandError::Arg;
    if (paid && args.ms == 0) return CommandError::Arg;
    return CommandError::None;
  }
  return CommandError::Cmd;
}

size_t Peripheral::handle_line(const char* line, size_t len, char* reply, size_t cap) {
  Frame f;
  FrameError e = parse_frame(line, len, f);
  if (e != FrameError::None) {
    char body[8] = "NAK:";
    strcat(body, frame_error_name(e));
    return encode_frame(reply, cap, SEQ_UNTRUSTED, body);
  }
  // A NAK and an event are never answered, by either side: no NAK storms (PROTOCOL.md "Framing").
  if (f.seq == SEQ_EVENT || frame_is(f, "NAK")) return 0;
  // Only the host's numbered commands are answered with their seq; any other `--` frame is not a command.
  if (f.seq < 0) return encode_frame(reply, cap, SEQ_UNTRUSTED, "NAK:FMT");
  uint8_t seq = static_cast<uint8_t>(f.seq);
  if (have_last_ && seq == last_seq_ && f.crc == last_crc_) return encode_frame(reply, cap, seq, "ACK");
  CommandArgs args;
  CommandError ce = command_of(f, args);
  if (ce == CommandError::Cmd) return encode_frame(reply, cap, seq, "NAK:CMD");
  if (ce == CommandError::Arg) return encode_frame(reply, cap, seq, "NAK:ARG");
  if (execute_ != nullptr) execute_(context_, args);
  have_last_ = true;
  last_seq_ = seq;
  last_crc_ = f.crc;
  return encode_frame(reply, cap, seq, "ACK");
}

size_t Peripheral::push(uint8_t byte, char* reply, size_t cap) {
  LineReader::Result r = reader_.push(byte);
  if (r == LineReader::Overflow) return encode_frame(reply, cap, SEQ_UNTRUSTED, "NAK:LEN");
  if (r != LineReader::Line) return 0;
  // An empty line (a lone "\n" or "\r\n") is not answered: hosts may send one to resynchronise.
  size_t len = reader_.length();
  if (len == 0 || (len == 1 && reader_.line()[0] == '\r')) return 0;
  size_t n = handle_line(reader_.line(), len, reply, cap);
  return n;
}

size_t Peripheral::event(char* out, size_t cap, const char* name, const char* arg) {
  char body[FRAME_MAX];
  size_t name_len = strlen(name);
  size_t arg_len = arg == nullptr ? 0 : strlen(arg) + 1;
  if (4 + name_len + arg_len + 1 > sizeof body) return 0;
  memcpy(body, "EVT:", 4);
  memcpy(body + 4, name, name_len);
  size_t pos = 4 + name_len;
  if (arg != nullptr) {
    body[pos++] = ':';
    memcpy(body + pos, arg, arg_len - 1);
    pos += arg_len - 1;
  }
  body[pos] = '\0';
  return encode_frame(out, cap, SEQ_EVENT, body);
}

size_t HostLink::send(const char* body, uint32_t now) {
  if (state_ == State::Waiting) return 0;
  size_t n = encode_frame(frame_, sizeof frame_, next_seq_, body);
  if (n == 0) return 0;
  seq_ = next_seq_;
  next_seq_ = static_cast<uint8_t>(next_seq_ + 1);
  len_ = n;
  attempts_ = 1;
  sent_at_ = now;
  state_ = State::Waiting;
  return n;
}

bool HostLink::retry(uint32_t now) {
  if (attempts_ > retries_) {
    state_ = State::Failed;
    return false;
  }
  attempts_++;
  sent_at_ = now;
  return true;
}

HostLink::Reply HostLink::on_line(const char* line, size_t len, uint32_t now) {
  if (state_ != State::Waiting) return Reply::Nothing;
  Frame f;
  // A garbled reply is as good as none: wait for the timeout (the peripheral may still be answering).
  if (parse_frame(line, len, f) != FrameError::None || f.seq == SEQ_EVENT) return Reply::Nothing;
  bool nak = frame_is(f, "NAK");
  if (f.seq == SEQ_UNTRUSTED && !nak) return Reply::Nothing;
  if (f.seq >= 0 && f.seq != seq_) return Reply::Nothing;  // a late reply to an earlier command
  if (f.seq >= 0 && frame_is(f, "ACK")) {
    state_ = State::Acked;
    return Reply::Acked;
  }
  if (!nak) return Reply::Nothing;
  // A NAK CMD or ARG is final: the same frame would be refused again (PROTOCOL.md "Host timing").
  bool final_nak = f.arg_len == 3 && (memcmp(f.arg, "CMD", 3) == 0 || memcmp(f.arg, "ARG", 3) == 0);
  if (final_nak) {
    state_ = State::Failed;
    return Reply::Failed;
  }
  return retry(now) ? Reply::Resend : Reply::Failed;
}

bool HostLink::poll(uint32_t now) {
  if (state_ != State::Waiting || static_cast<uint32_t>(now - sent_at_) < timeout_) return false;
  return retry(now);
}

}  // namespace pw
