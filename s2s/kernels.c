/* Two pieces of a decoder step, each one function over its rows where torch needs several operations:
 *   ranked_log_probs: each row's k best logits, best first, and their log-probabilities (s2s/ranking.py);
 *   gru_cell: a GRU cell's gates from the input table and the hidden matmul (s2s/gru_cell.py).
 *
 * Built and loaded by s2s/native.py (cc -O3 -fopenmp; see there). Rows are independent and each is computed
 * the same way whatever the others and whichever thread takes it, so a sentence gets the same numbers alone
 * as in any batch. OpenMP threads come from the pool torch already runs (the same libgomp).
 */
#include <math.h>
#include <stdint.h>

#define EXP_FLOOR -87.0f /* e^-87 is still a normal float: below it exp takes a slow path, and such terms
                            cannot change a sum that is at least 1 (the max's own term) */
#define EXP_CEILING 88.0f /* e^88 is below the largest float */
#define BLOCK 64         /* ids per block whose max is taken in the first pass */
#define PART 256         /* terms summed in float before the row's sum (double) takes them */

/* e^x for x held within [EXP_FLOOR, EXP_CEILING]: Cephes' expf (2^n by the exponent bits, e^r by a polynomial
 * for |r| <= ln2/2), written so that the compiler vectorizes it; within 1 ulp of e^x (every float in [-87, 0]
 * checked). */
static inline float exp_clamped(float x) {
  x = x > EXP_FLOOR ? x : EXP_FLOOR;
  x = x < EXP_CEILING ? x : EXP_CEILING;
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { int32_t bits; float value; } scale = {.bits = ((int32_t)n + 127) << 23};
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
  int64_t blocks = (vocab + BLOCK - 1) / BLOCK, chosen = 0, filled = 0;
  float block_max[blocks], best_max[k];
  int64_t best_block[k];
  /* Pass 1: each block's max; the k best ids lie in the k blocks with the highest maxima. */
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t end = (b + 1) * BLOCK < vocab ? (b + 1) * BLOCK : vocab;
    float m = -INFINITY;
    #pragma omp simd reduction(max : m)
    for (int64_t i = b * BLOCK; i < end; ++i) m = row[i] > m ? row[i] : m;
    block_max[b] = m;
  }
  for (int64_t b = 0; b < blocks; ++b) keep_best(block_max[b], b, best_max, best_block, &chosen, k);
  for (int64_t c = 0; c < chosen; ++c) {
    int64_t b = best_block[c], end = (b + 1) * BLOCK < vocab ? (b + 1) * BLOCK : vocab;
    for (int64_t i = b * BLOCK; i < end; ++i) keep_best(row[i], i, log_probs, ids, &filled, k);
  }
  /* Pass 2: log(sum(exp(logit - max))) + max, the row just read still in the core's cache. */
  float max = log_probs[0];
  double sum = 0.0;
  for (int64_t start = 0; start < vocab; start += PART) {
    int64_t end = start + PART < vocab ? start + PART : vocab;
    float part = 0.0f;
    #pragma omp simd reduction(+ : part)
    for (int64_t i = start; i < end; ++i) part += exp_clamped(row[i] - max);
    sum += part;
  }
  float normalizer = (float)((double)max + log(sum));
  for (int64_t j = 0; j < k; ++j) log_probs[j] -= normalizer;
}

/* logits (rows, vocab) row-major -> log_probs and ids (rows, k), each row's best first. 1 <= k <= vocab. */
void ranked_log_probs(const float *logits, int64_t rows, int64_t vocab, int64_t k, int threads,
                      float *log_probs, int64_t *ids) {
  #pragma omp parallel for schedule(static) num_threads(threads) if (rows > 1)
  for (int64_t r = 0; r < rows; ++r) rank_row(logits + r * vocab, vocab, k, log_probs + r * k, ids + r * k);
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

/* The states after one GRU step (PyTorch's gate order r, z, n), for rows reading words:
 *   gates_in (V, 3H): each word's input part of the gates, the r and z gates' hidden biases included;
 *   hidden_gates (rows, 3H): hidden (rows, H) times the hidden weights, no bias; bias_n (H): the n gate's
 *   hidden bias, apart because the reset gate multiplies it. out (rows, H) = (1 - z) * n + z * hidden. */
void gru_cell(const float *gates_in, const int64_t *words, const float *hidden, const float *hidden_gates,
              const float *bias_n, int64_t rows, int64_t size, int threads, float *out) {
  #pragma omp parallel for schedule(static) num_threads(threads) if (rows > 1)
  for (int64_t i = 0; i < rows; ++i) {
    const float *restrict in = gates_in + words[i] * 3 * size, *restrict h = hidden + i * size;
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
