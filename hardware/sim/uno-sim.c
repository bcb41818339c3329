/*
 * uno-sim: runs the Uno sketch in simavr (ATmega328P at 16 MHz) with its UART on a pseudo-terminal,
 * for the hardware tests. It prints, one line each, on stdout:
 *   PTY <path>                      the pty the host opens (115200 8N1, like the Uno's USB serial)
 *   PIN <arduino pin> <0|1> <ms>    a change of the relay pin (D7), at the simulated time in ms
 *   TX <line> <ms>                  a line the Uno wrote on its UART, when its `\n` left
 *   DISPLAY <command> <ms>          a Nextion command the sketch sent on D11 (SoftwareSerial), decoded,
 *                                   with the simulated time its first byte began
 *   EXIT <reason>
 * The simulation starts only when a line arrives on stdin (the host has opened the pty by then:
 * simavr runs faster than real time and bytes written before the host listens would be lost), and
 * runs paced to real time so the host's timeouts mean what they say. EOF on stdin ends it.
 * Usage: uno-sim <firmware.elf>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_ioport.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"

static avr_t* avr;
static int master = -1;
static int xon = 1;
static uint8_t input[4096];
static size_t input_head, input_len;

static double sim_ms(void) { return (double)avr->cycle * 1000.0 / (double)avr->frequency; }

/* The line the Uno is writing, echoed on stdout with the simulated time of its `\n`. */
static char tx_line[256];
static size_t tx_len;

static void uart_output(struct avr_irq_t* irq, uint32_t value, void* param) {
  (void)irq;
  (void)param;
  uint8_t byte = (uint8_t)value;
  if (byte == '\n') {
    tx_line[tx_len] = '\0';
    printf("TX %s %.3f\n", tx_line, sim_ms());
    fflush(stdout);
    tx_len = 0;
  } else if (tx_len + 1 < sizeof tx_line) {
    tx_line[tx_len++] = (byte >= 0x20 && byte < 0x7f) ? (char)byte : '?';
  }
  // The host reads as fast as the bytes come; a full pty buffer drops (a real cable would too).
  if (write(master, &byte, 1) < 0 && errno != EAGAIN) perror("write pty");
}

static void uart_xon(struct avr_irq_t* irq, uint32_t value, void* param) {
  (void)irq;
  (void)value;
  (void)param;
  xon = 1;
}

static void uart_xoff(struct avr_irq_t* irq, uint32_t value, void* param) {
  (void)irq;
  (void)value;
  (void)param;
  xon = 0;
}

static void feed_uart(void) {
  avr_irq_t* in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
  while (xon && input_len > 0) {
    uint8_t byte = input[input_head];
    input_head = (input_head + 1) % sizeof input;
    input_len--;
    avr_raise_irq(in, byte);
  }
}

static void relay_pin(struct avr_irq_t* irq, uint32_t value, void* param) {
  (void)irq;
  (void)param;
  printf("PIN 7 %u %.3f\n", value ? 1u : 0u, sim_ms());
  fflush(stdout);
}

/* A software UART receiver on D11 (PB3), decoding what the sketch sends the Nextion from edges. */
static struct {
  double bit_cycles;
  int level;
  uint64_t last_edge;
  int bit_index; /* -1 idle, 0..7 data, 8 stop */
  uint8_t byte;
  char command[256];
  size_t len;
  int ff;
  double started_ms; /* when the command's first byte began */
} rx = {16000000.0 / 9600.0, 1, 0, -1, 0, {0}, 0, 0, 0};

static void display_byte(uint8_t b) {
  if (b == 0xFF) {
    if (++rx.ff == 3) {
      rx.command[rx.len] = '\0';
      printf("DISPLAY %s %.3f\n", rx.command, rx.started_ms);
      fflush(stdout);
      // Like the Nextion itself: `bauds=` switches the line's speed at once.
      if (strncmp(rx.command, "bauds=", 6) == 0) rx.bit_cycles = 16000000.0 / atof(rx.command + 6);
      rx.len = 0;
      rx.ff = 0;
    }
    return;
  }
  rx.ff = 0;
  if (rx.len + 1 < sizeof rx.command) rx.command[rx.len++] = (b >= 0x20 && b < 0x7f) ? (char)b : '?';
}

static void display_bits(int level, uint64_t count) {
  for (uint64_t i = 0; i < count; i++) {
    if (rx.bit_index < 0) {
      if (level == 0) {
        rx.bit_index = 0;
        rx.byte = 0;
        if (rx.len == 0 && rx.ff == 0) rx.started_ms = (double)rx.last_edge * 1000.0 / (double)avr->frequency;
      } else {
        return; /* idle: the rest of the run is idle too */
      }
    } else if (rx.bit_index < 8) {
      rx.byte |= (uint8_t)(level << rx.bit_index);
      rx.bit_index++;
    } else {
      if (level == 1) display_byte(rx.byte);
      rx.bit_index = -1;
    }
  }
}

static void display_flush(void) {
  /* A byte ending in 1 bits completes only at the next edge: finish it once the line has idled. */
  if (rx.bit_index < 0 || rx.level != 1) return;
  double elapsed = (double)(avr->cycle - rx.last_edge) / rx.bit_cycles;
  if (elapsed < 12) return;
  uint64_t needed = (uint64_t)(9 - rx.bit_index);
  display_bits(1, needed);
  rx.last_edge += (uint64_t)(needed * rx.bit_cycles + 0.5);
}

static void display_pin(struct avr_irq_t* irq, uint32_t value, void* param) {
  (void)irq;
  (void)param;
  int level = value ? 1 : 0;
  if (level == rx.level) return;
  double bits = (double)(avr->cycle - rx.last_edge) / rx.bit_cycles;
  display_bits(rx.level, (uint64_t)(bits + 0.5));
  rx.level = level;
  rx.last_edge = avr->cycle;
}

static uint64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <firmware.elf>\n", argv[0]);
    return 2;
  }
  elf_firmware_t firmware;
  memset(&firmware, 0, sizeof firmware);
  if (elf_read_firmware(argv[1], &firmware) != 0) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  avr = avr_make_mcu_by_name("atmega328p");
  if (!avr) return 1;
  avr_init(avr);
  avr->log = LOG_ERROR;
  firmware.frequency = 16000000;
  avr_load_firmware(avr, &firmware);
  avr->frequency = 16000000;

  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
    perror("pty");
    return 1;
  }
  struct termios tio;
  tcgetattr(master, &tio);
  cfmakeraw(&tio);
  tcsetattr(master, TCSANOW, &tio);
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  /* Hold the slave open ourselves: no hang-up while the host reopens, nothing discarded. */
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  if (slave < 0) {
    perror("open slave");
    return 1;
  }

  /* No console echo of the UART (simavr's default), no sleeping when the firmware polls it. */
  uint32_t uart_flags = 0;
  avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &uart_flags);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_output, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), uart_xon, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), uart_xoff, NULL);
  /* Arduino D7 is PD7; D11 is PB3. */
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 7), relay_pin, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 3), display_pin, NULL);

  printf("PTY %s\n", ptsname(master));
  fflush(stdout);
  char go[64];
  if (!fgets(go, sizeof go, stdin)) return 0;
  fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);

  uint64_t started = wall_ns();
  uint64_t next_poll = 0;
  const char* reason = "eof";
  for (;;) {
    int state = avr_run(avr);
    if (state == cpu_Done || state == cpu_Crashed) {
      reason = state == cpu_Done ? "done" : "crashed";
      break;
    }
    if (avr->cycle < next_poll) continue;
    next_poll = avr->cycle + 1600; /* every 100 simulated µs */
    uint8_t buf[256];
    size_t room = sizeof input - input_len;
    ssize_t n = read(master, buf, room < sizeof buf ? room : sizeof buf);
    for (ssize_t i = 0; i < n; i++) {
      input[(input_head + input_len) % sizeof input] = buf[i];
      input_len++;
    }
    feed_uart();
    display_flush();
    char line[64];
    ssize_t s = read(STDIN_FILENO, line, sizeof line);
    if (s == 0) break;
    /* Pace to real time: sleep while the simulation is ahead of the wall clock. */
    uint64_t sim_ns = avr->cycle * 1000ull / 16ull;
    uint64_t wall = wall_ns() - started;
    if (sim_ns > wall + 1000000ull) {
      struct timespec ts = {0, (long)(sim_ns - wall)};
      nanosleep(&ts, NULL);
    }
  }
  printf("EXIT %s\n", reason);
  fflush(stdout);
  close(slave);
  close(master);
  return 0;
}
