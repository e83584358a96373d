/* The pieces of a decoding step, each one function over its rows where torch needs several operations:
 *   ranked_log_probs: each row's k best logits, best first, and their log-probabilities (s2s/ranking.py);
 *   output_ranked: the same from the decoder's states, the projection and output layer made tile by tile in
 *     the core's cache, never the (rows, vocabulary) logits in memory (s2s/ranking.py);
 *   gru_cell: a GRU cell's gates from the input table and the hidden matmul (s2s/gru_cell.py);
 *   gru_cell_fused: the whole cell, hidden matmul included, for a few rows (s2s/gru_cell.py);
 *   beam_step, beam_backtrack: the beam search's bookkeeping a step, and following each row's best beam back
 *     (s2s/beam_step.py).
 *
 * Built and loaded by s2s/native.py (cc -O3 -fopenmp; see there). Rows are independent and each is computed
 * the same way whatever the others and whichever thread takes it (a sum is one chain in a fixed order, whatever
 * the tile it is made in), so a sentence gets the same numbers alone as in any batch. OpenMP threads come from
 * the pool torch already runs (the same libgomp).
 */
#include <math.h>
#include <stdint.h>
#include <omp.h>
#include <string.h>

#define EXP_FLOOR -87.0f /* e^-87 is still a normal float: below it exp takes a slow path, and such terms
                            cannot change a sum that is at least 1 (the max's own term) */
#define EXP_CEILING 88.0f /* e^88 is below the largest float */
#define BLOCK 64         /* ids per block whose max is taken in the first pass */
#define PART 256         /* terms summed in float before the row's sums (double) take them */
#define LANES 16         /* the sum's lanes: one 512-bit vector of floats, or two or four narrower ones */

/* e^x for x held within [EXP_FLOOR, EXP_CEILING]: Cephes' expf (2^n built in the exponent bits, e^r by a
 * polynomial for |r| <= ln2/2), written so that the compiler vectorizes it; within 1 ulp of e^x (every float in
 * [-87, 88] checked). n = round(x / ln2) comes from the float adder: adding 1.5 * 2^23 leaves it in the low bits. */
static inline float exp_clamped(float x) {
  x = x > EXP_FLOOR ? x : EXP_FLOOR;
  x = x < EXP_CEILING ? x : EXP_CEILING;
  float shifted = x * 1.44269504088896341f + 12582912.0f;
  float n = shifted - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { float value; uint32_t bits; } in = {.value = shifted};
  union { uint32_t bits; float value; } scale = {.bits = (in.bits + 127u) << 23};
  return p * scale.value;
}

/* Put (x, id) into the descending list (values, ids) of *filled entries, keeping at most k. */
static inline void keep_best(float x, int64_t id, float *values, int64_t *ids, int64_t *filled, int64_t k) {
  if (*filled == k && !(x > values[k - 1])) return;
  int64_t j = *filled < k ? (*filled)++ : k - 1;
  while (j > 0 && values[j - 1] < x) {
    values[j] = values[j - 1];
    ids[j] = ids[j - 1];
    --j;
  }
  values[j] = x;
  ids[j] = id;
}

static void rank_row(const float *restrict row, int64_t vocab, int64_t k, float *restrict log_probs,
                     int64_t *restrict ids) {
  int64_t blocks = (vocab + BLOCK - 1) / BLOCK, full = vocab / BLOCK, chosen = 0, filled = 0;
  float block_max[blocks], best_max[k];
  int64_t best_block[k];
  /* Pass 1: each block's max (a full block's loop has a constant count: vector code, no tail); the k best ids
   * lie in the k blocks with the highest maxima, taken best first. */
  for (int64_t b = 0; b < full; ++b) {
    const float *block = row + b * BLOCK;
    float m = -INFINITY;
    #pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < BLOCK; ++i) m = block[i] > m ? block[i] : m;
    block_max[b] = m;
  }
  if (full < blocks) {
    float m = -INFINITY;
    for (int64_t i = full * BLOCK; i < vocab; ++i) m = row[i] > m ? row[i] : m;
    block_max[full] = m;
  }
  for (int64_t b = 0; b < blocks; ++b) keep_best(block_max[b], b, best_max, best_block, &chosen, k);
  for (int64_t c = 0; c < chosen; ++c) {
    if (filled == k && !(best_max[c] > log_probs[k - 1])) break; /* no id of this block or later ones can enter */
    int64_t b = best_block[c], end = (b + 1) * BLOCK < vocab ? (b + 1) * BLOCK : vocab;
    for (int64_t group = b * BLOCK; group < end; group += LANES) {
      int64_t group_end = group + LANES < end ? group + LANES : end;
      if (filled == k) { /* a vector test first: most groups hold nothing better than the k-th best so far */
        float m = -INFINITY;
        #pragma omp simd reduction(max : m)
        for (int64_t i = group; i < group_end; ++i) m = row[i] > m ? row[i] : m;
        if (!(m > log_probs[k - 1])) continue;
      }
      for (int64_t i = group; i < group_end; ++i) keep_best(row[i], i, log_probs, ids, &filled, k);
    }
  }
  /* Pass 2: log(sum(exp(logit - max))) + max, the row just read still in the core's cache. Each of LANES lanes
   * sums PART / LANES terms in float, then a double takes them: one horizontal sum a row, not one a part. */
  float max = log_probs[0];
  double lanes_sum[LANES] = {0};
  int64_t whole = vocab / LANES * LANES;
  for (int64_t start = 0; start < whole; start += PART) {
    int64_t end = start + PART < whole ? start + PART : whole;
    float lanes[LANES] = {0};
    for (int64_t i = start; i < end; i += LANES) {
      #pragma omp simd
      for (int l = 0; l < LANES; ++l) lanes[l] += exp_clamped(row[i + l] - max);
    }
    #pragma omp simd
    for (int l = 0; l < LANES; ++l) lanes_sum[l] += lanes[l];
  }
  double sum = 0.0;
  for (int l = 0; l < LANES; ++l) sum += lanes_sum[l];
  for (int64_t i = whole; i < vocab; ++i) sum += exp_clamped(row[i] - max);
  float normalizer = (float)((double)max + log(sum));
  for (int64_t j = 0; j < k; ++j) log_probs[j] -= normalizer;
}

/* logits (rows, vocab) row-major -> log_probs and ids (rows, k), each row's best first. 1 <= k <= vocab. */
void ranked_log_probs(const float *logits, int64_t rows, int64_t vocab, int64_t k, int threads,
                      float *log_probs, int64_t *ids) {
  #pragma omp parallel for schedule(static) num_threads(threads) if (rows > 1)
  for (int64_t r = 0; r < rows; ++r) rank_row(logits + r * vocab, vocab, k, log_probs + r * k, ids + r * k);
}

/* The decoder's output: its states' projection (H -> E, and a constant-1 feature for the output layer's bias),
 * then the logits, in tiles of rows whose sums stay in registers. Each sum is one row's own chain of fused
 * multiply-adds in a fixed order, the same whatever the row's place in a tile, the tile's kind or the thread:
 * a row's logits are the same bits in any batch. */
#if defined(__AVX512F__)
#define VECTOR 16
#define TILE_ROWS 8
#else
#define VECTOR 8
#define TILE_ROWS 4
#endif
#define TILE_VECTORS 2   /* a full tile: TILE_ROWS rows x 2 vectors of ids */
#define SINGLE_VECTORS 4 /* a row alone (a batch's last rows): 4 vectors of ids, four chains to keep both units busy */
typedef float vector __attribute__((vector_size(VECTOR * sizeof(float)), aligned(sizeof(float))));

/* x (TILE_ROWS, padded) = hidden (TILE_ROWS, size) times proj_t (size, padded) + bias, vector by vector of features. */
static void tile_features(const float *restrict hidden, const float *restrict proj_t, const float *restrict bias,
                          int64_t size, int64_t padded, float *restrict x) {
  for (int64_t c = 0; c < padded; c += VECTOR) {
    vector acc[TILE_ROWS];
    #pragma GCC unroll 16
    for (int r = 0; r < TILE_ROWS; ++r) acc[r] = *(const vector *)(bias + c);
    for (int64_t h = 0; h < size; ++h) {
      vector w = *(const vector *)(proj_t + h * padded + c);
      #pragma GCC unroll 16
      for (int r = 0; r < TILE_ROWS; ++r) acc[r] += hidden[r * size + h] * w;
    }
    #pragma GCC unroll 16
    for (int r = 0; r < TILE_ROWS; ++r) *(vector *)(x + r * padded + c) = acc[r];
  }
}

/* out (ROWS, vocab) = x (ROWS, padded; the first `width` features) times weight_t (width, vocab), ids begin to end. */
#define TILE_LOGITS(NAME, ROWS, VECTORS)                                                                           \
  static void NAME(const float *restrict x, const float *restrict weight_t, int64_t width, int64_t padded,         \
                   int64_t vocab, int64_t begin, int64_t end, float *restrict out) {                               \
    for (int64_t v = begin; v < end; v += VECTOR * VECTORS) {                                                      \
      vector acc[ROWS][VECTORS];                                                                                   \
      _Pragma("GCC unroll 16") for (int r = 0; r < ROWS; ++r)                                                      \
        _Pragma("GCC unroll 4") for (int j = 0; j < VECTORS; ++j) acc[r][j] = (vector){0};                        \
      for (int64_t f = 0; f < width; ++f) {                                                                        \
        vector w[VECTORS];                                                                                         \
        _Pragma("GCC unroll 4") for (int j = 0; j < VECTORS; ++j)                                                  \
          w[j] = *(const vector *)(weight_t + f * vocab + v + j * VECTOR);                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < ROWS; ++r) {                                                  \
          float scale = x[r * padded + f];                                                                         \
          _Pragma("GCC unroll 4") for (int j = 0; j < VECTORS; ++j) acc[r][j] += scale * w[j];                    \
        }                                                                                                          \
      }                                                                                                            \
      _Pragma("GCC unroll 16") for (int r = 0; r < ROWS; ++r)                                                      \
        _Pragma("GCC unroll 4") for (int j = 0; j < VECTORS; ++j)                                                 \
          *(vector *)(out + r * vocab + v + j * VECTOR) = acc[r][j];                                               \
    }                                                                                                              \
  }
TILE_LOGITS(tile_logits, TILE_ROWS, TILE_VECTORS)
TILE_LOGITS(row_logits, 1, SINGLE_VECTORS)

/* What vocab must be a multiple of. */
int64_t output_tile_ids(void) { return VECTOR * (TILE_VECTORS > SINGLE_VECTORS ? TILE_VECTORS : SINGLE_VECTORS); }

/* Floats of scratch that output_ranked needs: each thread's logits and features for a tile, and the last tile's
 * states (zero-padded), features and logits, shared. */
int64_t output_scratch(int64_t size, int64_t padded, int64_t vocab, int threads) {
  return ((int64_t)threads + 1) * TILE_ROWS * (vocab + padded) + TILE_ROWS * size;
}

/* ranked_log_probs of the logits of states hidden (rows, size), without writing the (rows, vocab) logits out: a
 * tile of rows' features, then their logits, made in the thread's part of scratch (TILE_ROWS x 20 KB at the
 * shipped size, in the core's cache) and ranked there. The rows of a last, partial tile (a batch of one
 * sentence is all such rows) share the work differently: every thread makes their logits for a part of the
 * vocabulary (a row alone reads the whole output layer, 0.7 MB, which takes more than one core's bandwidth),
 * then each row is ranked.
 *   proj_t (size, padded) and bias (padded): the projection, transposed, its features padded with zero columns to
 *   a multiple of 16 (bias: the projection's, then the output layer's constant 1, then zeros);
 *   weight_t (width, vocab): the output layer, its bias as the last row; width <= padded; vocab a multiple of
 *   output_tile_ids(); scratch: output_scratch(size, padded, vocab, threads) floats. */
void output_ranked(const float *hidden, const float *proj_t, const float *bias, const float *weight_t,
                   int64_t rows, int64_t size, int64_t padded, int64_t width, int64_t vocab, int64_t k, int threads,
                   float *scratch, float *log_probs, int64_t *ids) {
  int64_t full = rows / TILE_ROWS, first_tail = full * TILE_ROWS, tail = rows - first_tail;
  int64_t part = VECTOR * SINGLE_VECTORS, parts = vocab / part;
  float *tail_logits = scratch + (int64_t)threads * TILE_ROWS * (vocab + padded);
  float *tail_x = tail_logits + TILE_ROWS * vocab, *tail_hidden = tail_x + TILE_ROWS * padded;
  #pragma omp parallel num_threads(threads) if (threads > 1 && rows > 0)
  {
    float *logits = scratch + (int64_t)omp_get_thread_num() * TILE_ROWS * (vocab + padded);
    float *x = logits + TILE_ROWS * vocab;
    #pragma omp for schedule(static) nowait
    for (int64_t t = 0; t < full; ++t) {
      int64_t first = t * TILE_ROWS;
      tile_features(hidden + first * size, proj_t, bias, size, padded, x);
      tile_logits(x, weight_t, width, padded, vocab, 0, vocab, logits);
      for (int64_t r = 0; r < TILE_ROWS; ++r)
        rank_row(logits + r * vocab, vocab, k, log_probs + (first + r) * k, ids + (first + r) * k);
    }
    if (tail > 0) {
      #pragma omp single
      {
        memset(tail_hidden, 0, sizeof(float) * TILE_ROWS * size);
        memcpy(tail_hidden, hidden + first_tail * size, sizeof(float) * tail * size);
        tile_features(tail_hidden, proj_t, bias, size, padded, tail_x);
      }  /* each construct ends at a barrier: the features, then every part of the logits, are there for all */
      #pragma omp for schedule(static)
      for (int64_t p = 0; p < parts; ++p)
        for (int64_t r = 0; r < tail; ++r)
          row_logits(tail_x + r * padded, weight_t, width, padded, vocab, p * part, (p + 1) * part, tail_logits + r * vocab);
      #pragma omp for schedule(static)
      for (int64_t r = 0; r < tail; ++r)
        rank_row(tail_logits + r * vocab, vocab, k, log_probs + (first_tail + r) * k, ids + (first_tail + r) * k);
    }
  }
}

static inline float sigmoid(float x) { return 1.0f / (1.0f + exp_clamped(-x)); }

/* Cephes' tanhf: a polynomial near 0, where 1 - 2 / (e^2x + 1) would lose the digits of a small x. */
static inline float tanh_of(float x) {
  float magnitude = fabsf(x), square = x * x;
  float near_zero = x + x * square * ((((-5.70498872745e-3f * square + 2.06390887954e-2f) * square
                                        - 5.37397155531e-2f) * square + 1.33314422036e-1f) * square
                                      - 3.33332819422e-1f);
  float far = 1.0f - 2.0f / (exp_clamped(2.0f * magnitude) + 1.0f);
  return magnitude < 0.625f ? near_zero : (x < 0.0f ? -far : far);
}

/* The states after one GRU step (PyTorch's gate order r, z, n), for rows reading words (row i's is
 * words[i * word_stride]: a column of the ranking's ids is read where it lies):
 *   gates_in (V, 3H): each word's input part of the gates, the r and z gates' hidden biases included;
 *   hidden_gates (rows, 3H): hidden (rows, H) times the hidden weights, no bias; bias_n (H): the n gate's
 *   hidden bias, apart because the reset gate multiplies it. out (rows, H) = (1 - z) * n + z * hidden. */
void gru_cell(const float *gates_in, const int64_t *words, int64_t word_stride, const float *hidden,
              const float *hidden_gates, const float *bias_n, int64_t rows, int64_t size, int threads, float *out) {
  #pragma omp parallel for schedule(static) num_threads(threads) if (rows > 1)
  for (int64_t i = 0; i < rows; ++i) {
    const float *restrict in = gates_in + words[i * word_stride] * 3 * size, *restrict h = hidden + i * size;
    const float *restrict hg = hidden_gates + i * 3 * size;
    float *restrict o = out + i * size;
    #pragma omp simd
    for (int64_t j = 0; j < size; ++j) {
      float r = sigmoid(in[j] + hg[j]);
      float z = sigmoid(in[size + j] + hg[size + j]);
      float n = tanh_of(in[2 * size + j] + r * (hg[2 * size + j] + bias_n[j]));
      o[j] = n + z * (h[j] - n);
    }
  }
}

/* The GRU step in one pass, without the (rows, 3H) hidden gates: each thread takes its own blocks of VECTOR hidden
 * units (the same blocks every step, so its part of the hidden weights, half of 3 MB at the shipped size on two
 * cores, can stay in its core's cache) and, for a tile of rows, sums hidden x weights for the r, z and n gates of
 * those units in registers, then computes the gates as gru_cell does. w_packed (size / VECTOR, size, 3, VECTOR):
 * the hidden weights (H, 3H) regrouped by block of units (cell_block() floats a block); hidden and out must not
 * overlap. Each sum is one chain over the hidden units in order, so a row's states are the same bits in any batch. */
int64_t cell_block(void) { return VECTOR; }

#define CELL_TILE(NAME, ROWS)                                                                                      \
  static void NAME(const float *restrict gates_in, const int64_t *restrict words, int64_t word_stride,              \
                   const float *restrict hidden, const float *restrict w_block, const float *restrict bias_n,      \
                   int64_t size, int64_t unit, float *restrict out) {                                              \
    vector acc[ROWS][3];                                                                                           \
    _Pragma("GCC unroll 16") for (int r = 0; r < ROWS; ++r)                                                        \
      _Pragma("GCC unroll 3") for (int g = 0; g < 3; ++g) acc[r][g] = (vector){0};                                \
    for (int64_t k = 0; k < size; ++k) {                                                                           \
      const float *w = w_block + k * 3 * VECTOR;                                                                   \
      vector w0 = *(const vector *)w, w1 = *(const vector *)(w + VECTOR), w2 = *(const vector *)(w + 2 * VECTOR);  \
      _Pragma("GCC unroll 16") for (int r = 0; r < ROWS; ++r) {                                                    \
        float h = hidden[r * size + k];                                                                            \
        acc[r][0] += h * w0;                                                                                       \
        acc[r][1] += h * w1;                                                                                       \
        acc[r][2] += h * w2;                                                                                       \
      }                                                                                                            \
    }                                                                                                              \
    for (int r = 0; r < ROWS; ++r) {                                                                               \
      float hg[3][VECTOR];                                                                                         \
      for (int g = 0; g < 3; ++g) *(vector *)hg[g] = acc[r][g];                                                    \
      const float *restrict in = gates_in + words[r * word_stride] * 3 * size + unit;                              \
      const float *restrict h = hidden + r * size + unit;                                                          \
      float *restrict o = out + r * size + unit;                                                                   \
      _Pragma("omp simd") for (int l = 0; l < VECTOR; ++l) {                                                       \
        float rg = sigmoid(in[l] + hg[0][l]);                                                                      \
        float z = sigmoid(in[size + l] + hg[1][l]);                                                                \
        float n = tanh_of(in[2 * size + l] + rg * (hg[2][l] + bias_n[unit + l]));                                  \
        o[l] = n + z * (h[l] - n);                                                                                 \
      }                                                                                                            \
    }                                                                                                              \
  }
CELL_TILE(cell_tile, TILE_ROWS)
CELL_TILE(cell_row, 1)

void gru_cell_fused(const float *gates_in, const int64_t *words, int64_t word_stride, const float *hidden,
                    const float *w_packed, const float *bias_n, int64_t rows, int64_t size, int threads, float *out) {
  int64_t blocks = size / VECTOR, full = rows / TILE_ROWS, tail = rows - full * TILE_ROWS;
  int pad = tail > 2 && size <= 4096;  /* the copies below live on each thread's stack */
  #pragma omp parallel num_threads(threads) if (rows > 0)
  {
    /* A last tile of more than two rows runs as a full one over zero rows (one pass over the weights instead
     * of one a row): this thread's copy of its rows, and its outputs, of which only the real rows are kept. */
    float padded_hidden[pad ? TILE_ROWS * size : 1], padded_out[pad ? TILE_ROWS * size : 1];
    int64_t padded_words[TILE_ROWS];
    if (pad) {
      memset(padded_hidden, 0, sizeof(float) * TILE_ROWS * size);
      memcpy(padded_hidden, hidden + full * TILE_ROWS * size, sizeof(float) * tail * size);
      for (int64_t r = 0; r < TILE_ROWS; ++r) padded_words[r] = r < tail ? words[(full * TILE_ROWS + r) * word_stride] : 0;
    }
    #pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const float *w_block = w_packed + b * size * 3 * VECTOR;
      int64_t unit = b * VECTOR;
      for (int64_t t = 0; t < full; ++t) {
        int64_t first = t * TILE_ROWS;
        cell_tile(gates_in, words + first * word_stride, word_stride, hidden + first * size, w_block, bias_n, size,
                  unit, out + first * size);
      }
      if (pad) {
        cell_tile(gates_in, padded_words, 1, padded_hidden, w_block, bias_n, size, unit, padded_out);
        for (int64_t r = 0; r < tail; ++r)
          memcpy(out + (full * TILE_ROWS + r) * size + unit, padded_out + r * size + unit, sizeof(float) * VECTOR);
      } else {
        for (int64_t r = full * TILE_ROWS; r < rows; ++r)
          cell_row(gates_in, words + r * word_stride, word_stride, hidden + r * size, w_block, bias_n, size, unit,
                   out + r * size);
      }
    }
  }
}

/* The beam search's bookkeeping for one step (s2s/beam_step.py; torch's way is Seq2Seq.generate's loop), for the
 * n rows still decoding, `width` beams each, in the order of the rows array:
 *   top_log_probs, top_ids (n * width, ranked): each beam's best words this step, best first (ranked >= per_beam, k);
 *   old_hidden, new_hidden (layers, n * width, size): the states before and after the step;
 *   score, finished, num_steps (n, width), step_limit, rows (n): the search's state, updated in place.
 * Each row's candidates are its beams' per_beam best extensions (a finished beam only stays, by <pad>, at no cost);
 * its new beams are the `width` best by score, ties to the lower candidate (beam, then rank): torch's stable
 * descending sort. Each new beam takes its parent's new state (or its old one, when the parent had finished)
 * into hidden_out, and its next word into token (n * width). What the parent believed is recorded at
 * [step, row of the batch, beam] of the record arrays (capacity steps x batch x width [x k]), probabilities as
 * e^log p (0 and <pad> after a finished parent). A row is done when its best beam has finished: its last step,
 * steps and score are written at its batch row, and it leaves: the live rows move up (hidden_out too).
 * Returns how many rows are still decoding. One thread: each row is a few dozen comparisons. */
int64_t beam_step(int64_t n, int64_t width, int64_t per_beam, int64_t ranked, int64_t k, int64_t layers, int64_t size,
                  const float *top_log_probs, const int64_t *top_ids, const float *old_hidden, const float *new_hidden,
                  float *hidden_out, float *score, uint8_t *finished, int64_t *num_steps, int64_t *step_limit,
                  int64_t *rows, int64_t *token, int64_t step, int64_t batch, int64_t pad_id, int64_t eos_id,
                  int64_t *rec_parent, int64_t *rec_token, float *rec_prob, int64_t *rec_ids, float *rec_probs,
                  int64_t *last_step, int64_t *final_steps, float *final_score) {
  int64_t live = 0, stride = n * width;
  for (int64_t i = 0; i < n; ++i) {
    float best[width], old_score[width];
    int64_t pick[width], filled = 0, old_steps[width];
    uint8_t old_finished[width];
    for (int64_t j = 0; j < width; ++j) {
      old_score[j] = score[i * width + j];
      old_finished[j] = finished[i * width + j];
      old_steps[j] = num_steps[i * width + j];
    }
    for (int64_t j = 0; j < width; ++j) {
      const float *lp = top_log_probs + (i * width + j) * ranked;
      for (int64_t c = 0; c < per_beam; ++c) {
        float value = old_finished[j] ? (c == 0 ? old_score[j] : -INFINITY) : old_score[j] + lp[c];
        keep_best(value, j * per_beam + c, best, pick, &filled, width);
      }
    }
    int64_t row = rows[i], limit = step_limit[i], base = (step * batch + row) * width;
    uint8_t *now_finished = finished + live * width;
    for (int64_t j = 0; j < width; ++j) {
      int64_t parent = pick[j] / per_beam, rank = pick[j] % per_beam, from = (i * width + parent) * ranked;
      uint8_t parent_finished = old_finished[parent];
      int64_t word = parent_finished ? pad_id : top_ids[from + rank];
      int64_t steps = old_steps[parent] + !parent_finished;
      rec_parent[base + j] = parent;
      rec_token[base + j] = word;
      rec_prob[base + j] = parent_finished ? 0.0f : expf(top_log_probs[from + rank]);
      for (int64_t c = 0; c < k; ++c) {
        rec_ids[(base + j) * k + c] = parent_finished ? pad_id : top_ids[from + c];
        rec_probs[(base + j) * k + c] = parent_finished ? 0.0f : expf(top_log_probs[from + c]);
      }
      score[live * width + j] = best[j];
      now_finished[j] = parent_finished || word == eos_id || steps >= limit;
      num_steps[live * width + j] = steps;
      token[live * width + j] = word;
      const float *state = (parent_finished ? old_hidden : new_hidden) + (i * width + parent) * size;
      for (int64_t l = 0; l < layers; ++l)
        memcpy(hidden_out + (l * stride + live * width + j) * size, state + l * stride * size, sizeof(float) * size);
    }
    last_step[row] = step;
    final_steps[row] = num_steps[live * width];
    final_score[row] = score[live * width];
    if (!now_finished[0]) {
      rows[live] = row;
      step_limit[live] = limit;
      ++live;
    }
  }
  /* hidden_out's layers were written at stride n * width: move them up to stride live * width. */
  for (int64_t l = 1; l < layers && live < n; ++l)
    memmove(hidden_out + l * live * width * size, hidden_out + l * stride * size, sizeof(float) * live * width * size);
  return live;
}

/* Each row's best beam followed back from its last step, collecting what was recorded there (beam_step's record
 * arrays): tokens, probs (batch, steps) and top_ids, top_probs (batch, steps, k), filled with <pad>
 * and 0 beforehand; a row's places after its last step stay so. */
void beam_backtrack(int64_t batch, int64_t width, int64_t k, int64_t steps, const int64_t *last_step,
                    const int64_t *rec_parent, const int64_t *rec_token, const float *rec_prob, const int64_t *rec_ids,
                    const float *rec_probs, int64_t *tokens, float *probs, int64_t *top_ids, float *top_probs) {
  for (int64_t row = 0; row < batch; ++row) {
    int64_t beam = 0;
    for (int64_t t = last_step[row]; t >= 0; --t) {
      int64_t at = (t * batch + row) * width + beam, out = row * steps + t;
      tokens[out] = rec_token[at];
      probs[out] = rec_prob[at];
      memcpy(top_ids + out * k, rec_ids + at * k, sizeof(int64_t) * k);
      memcpy(top_probs + out * k, rec_probs + at * k, sizeof(float) * k);
      beam = rec_parent[at];
    }
  }
}
