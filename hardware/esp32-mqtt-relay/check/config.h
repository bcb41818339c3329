/* config.example.h's values, for the host compile check. */
#pragma once
#include "../src/config.example.h"
// The optional paths too: the offline license check.
#define PW_LICENSE_KEY "LIC1-AA-AA"
#define PW_LICENSE_PUBLIC_KEY "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n"
