/* assert.h -- freestanding: assertions compile away (NDEBUG semantics). */
#ifndef DVW_ASSERT_H
#define DVW_ASSERT_H
#define assert(x) ((void)0)
#define static_assert _Static_assert
#endif
