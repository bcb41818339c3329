/* Host stand-in for olikraus U8g2 2.35 (the parts of U8g2lib.h the sketch uses): declarations only. */
#pragma once
#include <stdint.h>
#define U8X8_PIN_NONE 255
typedef struct u8g2_cb_struct u8g2_cb_t;
extern const u8g2_cb_t u8g2_cb_r0;
#define U8G2_R0 (&u8g2_cb_r0)
extern const uint8_t u8g2_font_ncenB14_tr[];
extern const uint8_t u8g2_font_6x10_tr[];
class U8G2_SSD1306_128X64_NONAME_F_HW_I2C {
 public:
  U8G2_SSD1306_128X64_NONAME_F_HW_I2C(const u8g2_cb_t* rotation, uint8_t reset = U8X8_PIN_NONE, uint8_t clock = U8X8_PIN_NONE, uint8_t data = U8X8_PIN_NONE);
  bool begin();
  void clearBuffer();
  void sendBuffer();
  void setFont(const uint8_t* font);
  uint16_t drawStr(int16_t x, int16_t y, const char* s);
  void drawPixel(int16_t x, int16_t y);
};
