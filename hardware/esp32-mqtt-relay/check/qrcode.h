/* Host stand-in for ricmoo QRCode 0.0.1 (qrcode.h): declarations only. */
#pragma once
#include <stdint.h>
#define ECC_LOW 0
typedef struct QRCode {
  uint8_t version;
  uint8_t size;
  uint8_t ecc;
  uint8_t mode;
  uint8_t mask;
  uint8_t* modules;
} QRCode;
uint16_t qrcode_getBufferSize(uint8_t version);
int8_t qrcode_initText(QRCode* qrcode, uint8_t* modules, uint8_t version, uint8_t ecc, const char* data);
bool qrcode_getModule(QRCode* qrcode, uint8_t x, uint8_t y);
