/*
 * bertkit.prep.pretrain._mtrandom: an optional compiled accelerator for the pretraining
 * walk (instances.py). It holds one MT19937 generator that draws exactly the numbers
 * CPython's `random.Random` draws for the calls the walk makes, so the records stay the
 * same bytes with or without it:
 *
 *   MersenneTwister(seed)   seeded as `random.Random(seed)` for an int seed (abs(seed)
 *                           as 32-bit words, least significant first, through the
 *                           reference MT19937 init_by_array)
 *   getstate() / setstate() Python's (3, (625 ints), gauss_next) state format
 *   getrandbits(k)          k bits: for k <= 32 the top k bits of one 32-bit output;
 *                           past 32, 32-bit words least significant first, the last
 *                           one keeping the top bits of its output
 *   random()                53 bits from two outputs (27 + 26 top bits)
 *   randbelow(n)            `Random._randbelow`: getrandbits(n.bit_length()) until < n
 *   shuffle(list)           `Random.shuffle`: Fisher-Yates from the back, each j drawn
 *                           by randbelow(i + 1)
 *   shuffle_prefix(list, count)
 *                           the same draws; the whole list is shuffled (a swap costs no
 *                           more than the move the pure-Python variant makes)
 *
 * and three steps of the walk (instances.py), whole:
 *
 *   truncate_pair(a_lo, a_hi, b_lo, b_hi, max_num_tokens)
 *                           `_truncate_pair`: while A + B is too long, trim the longer
 *                           (B on a tie) at the front if random() < 0.5, else the back
 *
 *   candidate_head(len_a, length, count)
 *                           the first `count` of the candidate positions of an instance
 *                           of `length` tokens, [1..len_a] + [len_a + 2..length - 2]
 *                           ([CLS] A [SEP] B [SEP] without the three specials), after
 *                           `shuffle` of that list (the same draws)
 *   replacement_draws(count, mask_id, keep, words)
 *                           Google's 80/10/10 choice per masked position: random() < 0.8
 *                           shows mask_id; else random() < 0.5 shows `keep`; else a word
 *                           of `words` (a tuple) at randbelow(len(words))
 *
 * Written from the published MT19937 algorithm (Matsumoto and Nishimura, 1998) and the
 * documented behaviour of CPython's random module; checked against `random.Random` by
 * tests/test_prep_pretrain_accelerator.py.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MT_N 624
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfU
#define MT_UPPER 0x80000000U
#define MT_LOWER 0x7fffffffU

typedef struct {
    PyObject_HEAD
    int index;               /* next word of `words` to temper; MT_N: regenerate first */
    uint32_t words[MT_N];
    PyObject *gauss_next;    /* carried through getstate/setstate only (never drawn) */
} MTObject;

/* ------------------------------------------------------------------ the generator */

static inline uint32_t
mt_twist(uint32_t upper, uint32_t lower, uint32_t far)
{
    uint32_t y = (upper & MT_UPPER) | (lower & MT_LOWER);
    return far ^ (y >> 1) ^ ((y & 1U) ? MT_MATRIX_A : 0U);
}

/* The next 624 words, in place: word k from words k, k + 1 and k + 397 (mod 624), the
 * wrapped ones already renewed. */
static void
mt_regenerate(MTObject *self)
{
    uint32_t *mt = self->words;
    int k;
    for (k = 0; k < MT_N - MT_M; k++)
        mt[k] = mt_twist(mt[k], mt[k + 1], mt[k + MT_M]);
    for (; k < MT_N - 1; k++)
        mt[k] = mt_twist(mt[k], mt[k + 1], mt[k + MT_M - MT_N]);
    mt[MT_N - 1] = mt_twist(mt[MT_N - 1], mt[0], mt[MT_M - 1]);
    self->index = 0;
}

static inline uint32_t
mt_next(MTObject *self)
{
    uint32_t y;
    if (self->index >= MT_N)
        mt_regenerate(self);
    y = self->words[self->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

/* A uniform value in [0, bound) (1 <= bound <= 2**32 - 1 here), drawn as CPython's
 * _randbelow draws it: the top bit_length(bound) bits of an output, redrawn while too
 * large. */
static inline uint32_t
mt_below(MTObject *self, uint32_t bound, int shift)
{
    uint32_t r = mt_next(self) >> shift;
    while (r >= bound)
        r = mt_next(self) >> shift;
    return r;
}

static inline double
mt_unit(MTObject *self)
{
    uint32_t high = mt_next(self) >> 5, low = mt_next(self) >> 6;
    return (high * 67108864.0 + low) * (1.0 / 9007199254740992.0);
}

static inline int
bit_length32(uint32_t n)
{
#if defined(__GNUC__) || defined(__clang__)
    return n ? 32 - __builtin_clz(n) : 0;
#else
    int bits = 0;
    while (n) {
        bits++;
        n >>= 1;
    }
    return bits;
#endif
}

/* Fisher-Yates from the back, as Random.shuffle: the index that position i (>= 1) swaps
 * with, randbelow(i + 1). */
static inline uint32_t
mt_swap_index(MTObject *self, Py_ssize_t i)
{
    uint32_t bound = (uint32_t)i + 1;
    return mt_below(self, bound, 32 - bit_length32(bound));
}

static void
mt_seed_words(MTObject *self, const uint32_t *key, size_t length)
{
    uint32_t *mt = self->words;
    size_t i, j, k;
    mt[0] = 19650218U;
    for (i = 1; i < MT_N; i++)
        mt[i] = 1812433253U * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;
    i = 1;
    j = 0;
    for (k = (MT_N > length ? MT_N : length); k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525U))
                + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= MT_N) {
            mt[0] = mt[MT_N - 1];
            i = 1;
        }
        if (j >= length)
            j = 0;
    }
    for (k = MT_N - 1; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941U)) - (uint32_t)i;
        i++;
        if (i >= MT_N) {
            mt[0] = mt[MT_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000U;
    self->index = MT_N;
}

/* Seeds from a Python int as random.Random(seed) does: abs(seed) cut into 32-bit words,
 * least significant first, at least one word. */
static int
mt_seed_int(MTObject *self, PyObject *seed)
{
    PyObject *rest = NULL, *bits_obj = NULL, *shifted;
    uint32_t *key = NULL;
    Py_ssize_t bits, length, w;
    int status = -1;

    if (!PyLong_Check(seed)) {
        PyErr_SetString(PyExc_TypeError, "the seed must be an int");
        return -1;
    }
    /* int's own abs, as CPython's seeding takes it: an int subclass's __abs__ is not asked. */
    rest = PyLong_Type.tp_as_number->nb_absolute(seed);
    if (rest == NULL)
        goto done;
    bits_obj = PyObject_CallMethod(rest, "bit_length", NULL);
    if (bits_obj == NULL)
        goto done;
    bits = PyLong_AsSsize_t(bits_obj);
    if (bits < 0 && PyErr_Occurred())
        goto done;
    length = bits == 0 ? 1 : (bits - 1) / 32 + 1;
    key = PyMem_New(uint32_t, length);
    if (key == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (w = 0; w < length; w++) {
        unsigned long long low = PyLong_AsUnsignedLongLongMask(rest);
        if (low == (unsigned long long)-1 && PyErr_Occurred())
            goto done;
        key[w] = (uint32_t)(low & 0xffffffffULL);
        if (w + 1 < length) {
            PyObject *thirty_two = PyLong_FromLong(32);
            if (thirty_two == NULL)
                goto done;
            shifted = PyNumber_Rshift(rest, thirty_two);
            Py_DECREF(thirty_two);
            if (shifted == NULL)
                goto done;
            Py_SETREF(rest, shifted);
        }
    }
    mt_seed_words(self, key, (size_t)length);
    Py_CLEAR(self->gauss_next);
    status = 0;
done:
    PyMem_Free(key);
    Py_XDECREF(bits_obj);
    Py_XDECREF(rest);
    return status;
}

/* ------------------------------------------------------------------ the Python type */

static int
MT_init(MTObject *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"seed", NULL};
    PyObject *seed = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:MersenneTwister", names, &seed))
        return -1;
    return mt_seed_int(self, seed);
}

static PyObject *
MT_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    MTObject *self = (MTObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->index = MT_N;
    self->gauss_next = NULL;
    mt_seed_words(self, (const uint32_t[]){0U}, 1);
    return (PyObject *)self;
}

static void
MT_dealloc(MTObject *self)
{
    Py_CLEAR(self->gauss_next);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
MT_seed(MTObject *self, PyObject *seed)
{
    if (mt_seed_int(self, seed) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
MT_random(MTObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(mt_unit(self));
}

static PyObject *
MT_getrandbits(MTObject *self, PyObject *arg)
{
    Py_ssize_t k = PyLong_AsSsize_t(arg);
    if (k == -1 && PyErr_Occurred())
        return NULL;
    if (k < 0) {
        PyErr_SetString(PyExc_ValueError, "number of bits must be non-negative");
        return NULL;
    }
    if (k == 0)
        return PyLong_FromLong(0);
    if (k <= 32)
        return PyLong_FromUnsignedLong(mt_next(self) >> (32 - k));
    {
        /* Words least significant first, as little-endian bytes for int.from_bytes. */
        Py_ssize_t words = (k - 1) / 32 + 1, w;
        unsigned char *bytes = PyMem_Malloc((size_t)words * 4);
        PyObject *raw, *result;
        if (bytes == NULL)
            return PyErr_NoMemory();
        for (w = 0; w < words; w++, k -= 32) {
            uint32_t r = mt_next(self);
            if (k < 32)
                r >>= 32 - k;
            bytes[4 * w] = (unsigned char)r;
            bytes[4 * w + 1] = (unsigned char)(r >> 8);
            bytes[4 * w + 2] = (unsigned char)(r >> 16);
            bytes[4 * w + 3] = (unsigned char)(r >> 24);
        }
        raw = PyBytes_FromStringAndSize((const char *)bytes, words * 4);
        PyMem_Free(bytes);
        if (raw == NULL)
            return NULL;
        result = PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "Os", raw,
                                     "little");
        Py_DECREF(raw);
        return result;
    }
}

static PyObject *
MT_randbelow(MTObject *self, PyObject *arg)
{
    unsigned long n = PyLong_AsUnsignedLong(arg);
    if (n == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (n == 0 || n > 0xffffffffUL) {
        PyErr_SetString(PyExc_ValueError, "randbelow needs 1 <= n < 2**32");
        return NULL;
    }
    return PyLong_FromUnsignedLong(
        mt_below(self, (uint32_t)n, 32 - bit_length32((uint32_t)n)));
}

/* Fisher-Yates from the back over a list's item pointers: nothing runs Python code
 * meanwhile, so the list cannot change under us, and a swap leaves every refcount. */
static int
mt_shuffle_list(MTObject *self, PyObject *list)
{
    PyObject **items, *held;
    Py_ssize_t size, i;
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "shuffle takes a list");
        return -1;
    }
    size = PyList_GET_SIZE(list);
    if ((unsigned long long)size > 0xffffffffULL) {
        PyErr_SetString(PyExc_OverflowError, "list too long to shuffle here");
        return -1;
    }
    items = ((PyListObject *)list)->ob_item;
    for (i = size - 1; i > 0; i--) {
        uint32_t j = mt_swap_index(self, i);
        held = items[i];
        items[i] = items[j];
        items[j] = held;
    }
    return 0;
}

static PyObject *
MT_shuffle(MTObject *self, PyObject *list)
{
    if (mt_shuffle_list(self, list) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
MT_shuffle_prefix(MTObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "shuffle_prefix(list, count)");
        return NULL;
    }
    if (PyLong_AsSsize_t(args[1]) == -1 && PyErr_Occurred())
        return NULL;
    if (mt_shuffle_list(self, args[0]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Offsets and lengths the walk passes are token positions within one shard. Past this
   bound a direct call is refused, so that no difference or sum of them can overflow. */
#define MAX_POSITION (PY_SSIZE_T_MAX >> 2)
/* candidate_head lays out one sequence's candidates: a model's sequence length, not more. */
#define MAX_SEQUENCE_LENGTH (1 << 20)

/* args[0:n] as Py_ssize_t, each in [0, MAX_POSITION]; -1 with an exception set otherwise. */
static int
positions_from_args(PyObject *const *args, Py_ssize_t n, Py_ssize_t *out, const char *usage)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        out[i] = PyLong_AsSsize_t(args[i]);
        if (out[i] == -1 && PyErr_Occurred())
            return -1;
        if (out[i] < 0 || out[i] > MAX_POSITION) {
            PyErr_Format(PyExc_ValueError, "%s: argument %zd out of range", usage, i + 1);
            return -1;
        }
    }
    return 0;
}

static PyObject *
MT_truncate_pair(MTObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t a_lo, a_hi, b_lo, b_hi, max_num_tokens;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "truncate_pair(a_lo, a_hi, b_lo, b_hi, max_num_tokens)");
        return NULL;
    }
    Py_ssize_t values[5];
    if (positions_from_args(args, 5, values, "truncate_pair") < 0)
        return NULL;
    a_lo = values[0];
    a_hi = values[1];
    b_lo = values[2];
    b_hi = values[3];
    max_num_tokens = values[4];
    if (a_hi < a_lo || b_hi < b_lo) {
        PyErr_SetString(PyExc_ValueError, "truncate_pair needs two ranges and a limit >= 0");
        return NULL;
    }
    while ((a_hi - a_lo) + (b_hi - b_lo) > max_num_tokens) {
        if (a_hi - a_lo > b_hi - b_lo) {
            if (mt_unit(self) < 0.5)
                a_lo++;
            else
                a_hi--;
        }
        else if (mt_unit(self) < 0.5)
            b_lo++;
        else
            b_hi--;
    }
    return Py_BuildValue("(nnnn)", a_lo, a_hi, b_lo, b_hi);
}

static PyObject *
MT_candidate_head(MTObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t len_a, length, count, size, i;
    uint32_t stack[512], *candidates = stack;
    PyObject *head;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "candidate_head(len_a, length, count)");
        return NULL;
    }
    Py_ssize_t values[3];
    if (positions_from_args(args, 3, values, "candidate_head") < 0)
        return NULL;
    len_a = values[0];
    length = values[1];
    count = values[2];
    size = length - 3;
    if (size < len_a || length > MAX_SEQUENCE_LENGTH) {
        PyErr_SetString(PyExc_ValueError, "candidate_head needs 0 <= len_a <= length - 3 and a length of at most 2**20");
        return NULL;
    }
    if (size > (Py_ssize_t)(sizeof stack / sizeof stack[0])) {
        candidates = PyMem_New(uint32_t, size);
        if (candidates == NULL)
            return PyErr_NoMemory();
    }
    for (i = 0; i < len_a; i++)
        candidates[i] = (uint32_t)(i + 1);
    for (; i < size; i++)
        candidates[i] = (uint32_t)(i + 2);
    for (i = size - 1; i > 0; i--) {
        uint32_t j = mt_swap_index(self, i);
        uint32_t held = candidates[i];
        candidates[i] = candidates[j];
        candidates[j] = held;
    }
    if (count > size)
        count = size;
    head = PyList_New(count);
    for (i = 0; head != NULL && i < count; i++) {
        PyObject *position = PyLong_FromUnsignedLong(candidates[i]);
        if (position == NULL)
            Py_CLEAR(head);
        else
            PyList_SET_ITEM(head, i, position);
    }
    if (candidates != stack)
        PyMem_Free(candidates);
    return head;
}

static PyObject *
MT_replacement_draws(MTObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t count, num_words, i;
    PyObject *mask_id, *keep, *words, *shown, *drawn;
    int shift;
    if (nargs != 4 || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "replacement_draws(count, mask_id, keep, words: tuple)");
        return NULL;
    }
    count = PyLong_AsSsize_t(args[0]);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    mask_id = args[1];
    keep = args[2];
    words = args[3];
    num_words = PyTuple_GET_SIZE(words);
    if (count < 0 || num_words == 0 || num_words > 0xffffffffLL) {
        PyErr_SetString(PyExc_ValueError, "replacement_draws needs count >= 0 and words");
        return NULL;
    }
    shift = 32 - bit_length32((uint32_t)num_words);
    shown = PyList_New(count);
    if (shown == NULL)
        return NULL;
    for (i = 0; i < count; i++) {
        if (mt_unit(self) < 0.8)
            drawn = mask_id;
        else if (mt_unit(self) < 0.5)
            drawn = keep;
        else
            drawn = PyTuple_GET_ITEM(words, mt_below(self, (uint32_t)num_words, shift));
        Py_INCREF(drawn);
        PyList_SET_ITEM(shown, i, drawn);
    }
    return shown;
}

static PyObject *
MT_getstate(MTObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *internal = PyTuple_New(MT_N + 1), *value;
    int i;
    if (internal == NULL)
        return NULL;
    for (i = 0; i < MT_N; i++) {
        value = PyLong_FromUnsignedLong(self->words[i]);
        if (value == NULL) {
            Py_DECREF(internal);
            return NULL;
        }
        PyTuple_SET_ITEM(internal, i, value);
    }
    value = PyLong_FromLong(self->index);
    if (value == NULL) {
        Py_DECREF(internal);
        return NULL;
    }
    PyTuple_SET_ITEM(internal, MT_N, value);
    return Py_BuildValue("(iNO)", 3, internal,
                         self->gauss_next ? self->gauss_next : Py_None);
}

static PyObject *
MT_setstate(MTObject *self, PyObject *state)
{
    PyObject *internal, *gauss_next;
    uint32_t words[MT_N];
    long version, index;
    int i;
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) != 3) {
        PyErr_SetString(PyExc_ValueError, "state must be (3, internal state, gauss_next)");
        return NULL;
    }
    version = PyLong_AsLong(PyTuple_GET_ITEM(state, 0));
    if (version == -1 && PyErr_Occurred())
        return NULL;
    internal = PyTuple_GET_ITEM(state, 1);
    gauss_next = PyTuple_GET_ITEM(state, 2);
    if (version != 3 || !PyTuple_Check(internal) || PyTuple_GET_SIZE(internal) != MT_N + 1) {
        PyErr_SetString(PyExc_ValueError, "state must be (3, internal state, gauss_next)");
        return NULL;
    }
    for (i = 0; i < MT_N; i++) {
        unsigned long word = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(internal, i));
        if (word == (unsigned long)-1 && PyErr_Occurred())
            return NULL;
        words[i] = (uint32_t)word;
    }
    index = PyLong_AsLong(PyTuple_GET_ITEM(internal, MT_N));
    if (index == -1 && PyErr_Occurred())
        return NULL;
    if (index < 0 || index > MT_N) {
        PyErr_SetString(PyExc_ValueError, "invalid state");
        return NULL;
    }
    if (gauss_next != Py_None && !PyFloat_Check(gauss_next)) {
        PyErr_SetString(PyExc_TypeError, "gauss_next must be a float or None");
        return NULL;
    }
    memcpy(self->words, words, sizeof words);
    self->index = (int)index;
    if (gauss_next == Py_None) {
        Py_CLEAR(self->gauss_next);
    }
    else {
        Py_INCREF(gauss_next);
        Py_XSETREF(self->gauss_next, gauss_next);
    }
    Py_RETURN_NONE;
}

static PyMethodDef MT_methods[] = {
    {"seed", (PyCFunction)MT_seed, METH_O, "Reseed as random.Random(seed) for an int seed."},
    {"random", (PyCFunction)MT_random, METH_NOARGS, "random.Random.random()"},
    {"getrandbits", (PyCFunction)MT_getrandbits, METH_O, "random.Random.getrandbits(k)"},
    {"randbelow", (PyCFunction)MT_randbelow, METH_O,
     "random.Random._randbelow(n) for 1 <= n < 2**32"},
    {"shuffle", (PyCFunction)MT_shuffle, METH_O, "random.Random.shuffle(list)"},
    {"shuffle_prefix", (PyCFunction)(void (*)(void))MT_shuffle_prefix, METH_FASTCALL,
     "shuffle_prefix(list, count): list[:count] as shuffle(list) leaves it, the same draws"},
    {"truncate_pair", (PyCFunction)(void (*)(void))MT_truncate_pair, METH_FASTCALL,
     "truncate_pair(a_lo, a_hi, b_lo, b_hi, max_num_tokens): the walk's truncation"},
    {"candidate_head", (PyCFunction)(void (*)(void))MT_candidate_head, METH_FASTCALL,
     "candidate_head(len_a, length, count): the head of the shuffled candidate positions"},
    {"replacement_draws", (PyCFunction)(void (*)(void))MT_replacement_draws, METH_FASTCALL,
     "replacement_draws(count, mask_id, keep, words): Google's 80/10/10 draws"},
    {"getstate", (PyCFunction)MT_getstate, METH_NOARGS, "random.Random.getstate()"},
    {"setstate", (PyCFunction)MT_setstate, METH_O, "random.Random.setstate(state)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MTType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "bertkit.prep.pretrain._mtrandom.MersenneTwister",
    .tp_doc = "MT19937 drawing what random.Random draws, for the pretraining walk.",
    .tp_basicsize = sizeof(MTObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = MT_new,
    .tp_init = (initproc)MT_init,
    .tp_dealloc = (destructor)MT_dealloc,
    .tp_methods = MT_methods,
};

static struct PyModuleDef mtrandom_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "bertkit.prep.pretrain._mtrandom",
    .m_doc = "Optional compiled MT19937 for the pretraining walk (see instances.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__mtrandom(void)
{
    PyObject *module;
    if (PyType_Ready(&MTType) < 0)
        return NULL;
    module = PyModule_Create(&mtrandom_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&MTType);
    if (PyModule_AddObject(module, "MersenneTwister", (PyObject *)&MTType) < 0) {
        Py_DECREF(&MTType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
