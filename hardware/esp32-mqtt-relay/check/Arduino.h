/* Host stand-in for the Arduino-ESP32 API the sketch uses, so `make esp32-check` can compile main.cpp: declarations only. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#define HIGH 0x1
#define LOW 0x0
#define OUTPUT 0x03
typedef bool boolean;
typedef uint8_t byte;
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t val);
unsigned long millis();
void delay(uint32_t ms);
uint32_t esp_random();
struct HardwareSerial {
  void begin(unsigned long baud);
  size_t println(const char* s);
  int printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
};
extern HardwareSerial Serial;
struct EspClass {
  uint64_t getEfuseMac();
  void restart();
};
extern EspClass ESP;
class Client {};
