/**
 * Sizes the core is built with. Every buffer in the core is fixed at compile time from these: no heap.
 * A sketch may override them with -D flags (PlatformIO build_flags) before the core is compiled.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

/** Longest payment_id / trigger_id kept (the bridge's ids are 15 characters; actionMessage allows 64). */
#ifndef PW_ID_MAX
#define PW_ID_MAX 64
#endif

/** Longest account or asset id in a topic. */
#ifndef PW_SEGMENT_MAX
#define PW_SEGMENT_MAX 64
#endif

/** Largest JSON payload read from the broker (PubSubClient's setBufferSize(1024) in the ESP32 sketch). */
#ifndef PW_JSON_MAX
#define PW_JSON_MAX 1024
#endif

/** How many payment ids the seen ring remembers. */
#ifndef PW_SEEN_SLOTS
#define PW_SEEN_SLOTS 32
#endif

/** The longest run the bridge sends (MAX_DURATION_MS in bridge/machines/schemas.ts): 24 hours. */
#define PW_MAX_DURATION_MS 86400000UL

#endif
