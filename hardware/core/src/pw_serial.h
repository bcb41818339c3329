/**
 * The Paywire serial protocol v1 (device/PROTOCOL.md): `seq ":" body "*" crc "\n"` frames with
 * CRC-16/CCITT-FALSE, ACK/NAK replies, repeat detection on the peripheral, events, and the host's
 * one-outstanding-command retry timer. Fixed buffers only: it runs on an Uno (2 KB of RAM).
 */
#ifndef PW_SERIAL_H
#define PW_SERIAL_H

#include <stddef.h>
#include <stdint.h>

namespace pw {

/** A frame is at most 200 bytes including its `\n` (a `\r` before it is ignored). */
const size_t FRAME_MAX = 200;

/** seq values besides 0..255: an unsolicited event (`~~`) and a NAK to an untrusted frame (`--`). */
const int SEQ_EVENT = -1;
const int SEQ_UNTRUSTED = -2;

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor (check value 0x29B1). */
uint16_t crc16(const uint8_t* data, size_t len, uint16_t crc = 0xFFFF);

/**
 * Write a whole frame for `seq` (0..255, SEQ_EVENT or SEQ_UNTRUSTED) and `body`, ending in `\n`,
 * NUL-terminated. Returns its length, or 0 when the body is not printable ASCII without `*`, the seq
 * is out of range, or the frame would pass FRAME_MAX or `cap`.
 */
size_t encode_frame(char* out, size_t cap, int seq, const char* body);

/** Why a line is not a frame: the NAK reasons of device/PROTOCOL.md. */
enum class FrameError : uint8_t { None, Crc, Fmt, Len };
const char* frame_error_name(FrameError error);

struct Frame {
  /** 0..255, SEQ_EVENT or SEQ_UNTRUSTED. */
  int seq;
  uint16_t crc;
  /** NAME and arg point into the line; `has_arg` tells `NAME` from `NAME:` (an empty argument). */
  const char* name;
  size_t name_len;
  const char* arg;
  size_t arg_len;
  bool has_arg;
};

/** Parse one line (without its `\n`; a trailing `\r` is dropped). The frame points into `line`. */
FrameError parse_frame(const char* line, size_t len, Frame& out);

/** Whether the frame's NAME is `name`. */
bool frame_is(const Frame& frame, const char* name);

/** Collects bytes into lines of at most FRAME_MAX - 1 bytes, discarding the rest of an overflowing line. */
class LineReader {
 public:
  enum Result : uint8_t { None, Line, Overflow };
  LineReader() : len_(0), overflow_(false), ready_(false) {}
  /** Feed one byte: Line when a whole line waits in line()/length(), Overflow at the `\n` of one too long. */
  Result push(uint8_t byte);
  const char* line() const { return buf_; }
  size_t length() const { return len_; }

 private:
  char buf_[FRAME_MAX + 1];
  size_t len_;
  bool overflow_;
  /** A line was handed out: the next byte starts a new one. */
  bool ready_;
};

/** The peripheral's commands. */
enum class Command : uint8_t { Ping, Qr, Txt, Paid, Clr, Rly };

struct CommandArgs {
  Command command;
  /** QR / TXT text, NUL-terminated copy. */
  char text[161];
  /** PAID / RLY milliseconds. */
  uint32_t ms;
};

/**
 * The peripheral's side: feed it bytes, it answers each command line with exactly one reply and calls
 * `execute` for commands carried out; events and NAKs it receives are never answered. A command with the seq and CRC of the last one carried out is a
 * retry after a lost ACK: it is ACKed again and not carried out again.
 */
class Peripheral {
 public:
  typedef void (*Execute)(void* context, const CommandArgs& command);
  Peripheral(Execute execute, void* context) : execute_(execute), context_(context), have_last_(false), last_seq_(0), last_crc_(0) {}

  /** Feed one byte; when a reply is due it is written to `reply` (a whole frame) and its length returned. */
  size_t push(uint8_t byte, char* reply, size_t cap);
  /** The reply to one whole line (what push() does at a `\n`). */
  size_t handle_line(const char* line, size_t len, char* reply, size_t cap);
  /** An event frame `~~:EVT:<name>[:<arg>]`. */
  static size_t event(char* out, size_t cap, const char* name, const char* arg);
  /** Forget the last command (after a reset). */
  void forget() { have_last_ = false; }

 private:
  FrameError check(const Frame& frame, CommandArgs& args) const;

  LineReader reader_;
  Execute execute_;
  void* context_;
  bool have_last_;
  uint8_t last_seq_;
  uint16_t last_crc_;
};

/**
 * The host's side, one command outstanding at a time (device/PROTOCOL.md "Host timing"): send(), then
 * feed every received line to on_line() and call poll() often. A timeout, a NAK CRC/FMT/LEN, or a
 * `--:NAK` while a command is outstanding sends the same frame again (same seq), up to `retries` times;
 * a NAK CMD or ARG fails the command at once. The host never answers a line.
 */
class HostLink {
 public:
  enum class State : uint8_t { Idle, Waiting, Acked, Failed };
  /**
   * `first_seq`: a session starts at a random seq (esp_random(), an unconnected analogRead()), and its
   * first command is a PING (PROTOCOL.md "Sessions"), so a restarted host is never taken for a retry.
   */
  explicit HostLink(uint32_t timeout_ms = 250, uint8_t retries = 3, uint8_t first_seq = 0)
      : timeout_(timeout_ms), retries_(retries), state_(State::Idle), next_seq_(first_seq), seq_(first_seq), attempts_(0), sent_at_(0), len_(0) {}

  /** Frame a command with the next seq; returns the frame to write (0 when busy or the body is invalid). */
  size_t send(const char* body, uint32_t now);
  enum class Reply : uint8_t { Nothing, Acked, Resend, Failed };
  /** A line from the peripheral: Acked, Resend (write frame() again now), Failed (the last attempt was NAKed) or Nothing. */
  Reply on_line(const char* line, size_t len, uint32_t now);
  /** Whether the frame should be written again now (a timeout): then frame()/frame_length() hold it. */
  bool poll(uint32_t now);

  State state() const { return state_; }
  /** The outstanding (or last) frame. */
  const char* frame() const { return frame_; }
  size_t frame_length() const { return len_; }
  uint8_t attempts() const { return attempts_; }
  uint8_t seq() const { return seq_; }
  /** After Acked/Failed: ready for the next command. */
  void done() { state_ = State::Idle; }

 private:
  /** Count another attempt: false (and Failed) when none is left. */
  bool retry(uint32_t now);

  uint32_t timeout_;
  uint8_t retries_;
  State state_;
  uint8_t next_seq_;
  uint8_t seq_;
  uint8_t attempts_;
  uint32_t sent_at_;
  char frame_[FRAME_MAX + 1];
  size_t len_;
};

}  // namespace pw

#endif
