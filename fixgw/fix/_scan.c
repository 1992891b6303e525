/* The two steps of decoding a received message that run once per field, in C (pure core).
 *
 * Why: an order's answer is decoded on QuickFIX's thread while the caller waits, and on
 * this machine kind that path runs with cold caches (it follows an idle wait). Splitting
 * the text with str.replace/str.split makes three passes and ~60 throwaway strings, and
 * filling a plan's fields is a bytecode loop; here each is one C call. Both are
 * optimisations, never a second opinion: whatever they do not handle plainly they hand
 * back as None, and fixgw.fix.codec takes its Python path, which gives the same answer or
 * the precise error. tests/fix/test_scan_c.py checks both against the Python path.
 *
 * split(raw) -> (shape, values) | None
 *     shape: the tags joined by SOH (the key fixgw.fix.codec caches plans under);
 *     values: every field's value, in order. None unless raw is ASCII and every field is
 *     tag=value with a non-empty value (the first "=" ends the tag, as in the Python path).
 * fill(template, values, texts, memos, calls) -> dict | None
 *     A copy of template with texts ((name, index) pairs) set to values[index], memos
 *     ((name, index, memo) triples) to memo[values[index]], and calls ((name, index,
 *     converter) triples) to converter(values[index]). None on a memo miss or a converter
 *     that raises ValueError or ArithmeticError: the Python path then converts, remembers, or
 *     names the field. Any other exception propagates, as it does from the Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static PyObject *
ascii_string(const char *data, Py_ssize_t n)
{
    PyObject *s = PyUnicode_New(n, 127);
    if (s != NULL)
        memcpy(PyUnicode_DATA(s), data, n);
    return s;
}

static PyObject *
scan_split(PyObject *module, PyObject *raw)
{
    if (!PyUnicode_Check(raw) || !PyUnicode_IS_COMPACT_ASCII(raw) || PyUnicode_GET_LENGTH(raw) == 0)
        Py_RETURN_NONE;  /* not text, not ASCII, or one empty field */
    const char *s = (const char *)PyUnicode_DATA(raw);
    Py_ssize_t n = PyUnicode_GET_LENGTH(raw), i = 0, used = 0;
    char local[2048];
    char *shape = n <= (Py_ssize_t)sizeof local ? local : PyMem_Malloc(n);
    if (shape == NULL)
        return PyErr_NoMemory();
    PyObject *values = PyList_New(0), *result = NULL;
    if (values == NULL)
        goto done;
    while (i < n) {
        const char *eq = memchr(s + i, '=', n - i);
        const char *soh = memchr(s + i, '\x01', n - i);
        Py_ssize_t end = soh != NULL ? soh - s : n;
        if (eq == NULL || eq - s > end || eq - s + 1 == end) {  /* no "=" in this field, or no value */
            result = Py_NewRef(Py_None);
            goto done;
        }
        Py_ssize_t at = eq - s;
        if (i > 0)  /* not the first field */
            shape[used++] = '\x01';
        memcpy(shape + used, s + i, at - i);
        used += at - i;
        PyObject *value = ascii_string(s + at + 1, end - at - 1);
        if (value == NULL)
            goto done;
        int failed = PyList_Append(values, value);
        Py_DECREF(value);
        if (failed)
            goto done;
        i = end + 1;
    }
    PyObject *tags = ascii_string(shape, used);
    if (tags != NULL) {
        result = PyTuple_Pack(2, tags, values);
        Py_DECREF(tags);
    }
done:
    if (shape != local)
        PyMem_Free(shape);
    Py_XDECREF(values);
    return result;
}

/* values[index] of an (name, index, ...) entry, or NULL when the index is out of range */
static PyObject *
value_at(PyObject *entry, PyObject *values)
{
    Py_ssize_t i = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 1));
    if (i < 0 || i >= PyList_GET_SIZE(values)) {
        PyErr_Clear();
        return NULL;
    }
    return PyList_GET_ITEM(values, i);
}

static int
entries_ok(PyObject *entries, Py_ssize_t width)
{
    if (!PyTuple_CheckExact(entries))
        return 0;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(entries); j++) {
        PyObject *e = PyTuple_GET_ITEM(entries, j);
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != width || !PyLong_CheckExact(PyTuple_GET_ITEM(e, 1)))
            return 0;
    }
    return 1;
}

static PyObject *
scan_fill(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "fill(template, values, texts, memos, calls) takes 5 arguments");
        return NULL;
    }
    PyObject *template = args[0], *values = args[1], *texts = args[2], *memos = args[3], *calls = args[4];
    if (!PyDict_CheckExact(template) || !PyList_CheckExact(values) || !entries_ok(texts, 2)
        || !entries_ok(memos, 3) || !entries_ok(calls, 3))
        Py_RETURN_NONE;  /* not the shapes the codec passes: its Python path decides */
    PyObject *full = PyDict_Copy(template);
    if (full == NULL)
        return NULL;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(texts); j++) {
        PyObject *e = PyTuple_GET_ITEM(texts, j), *v = value_at(e, values);
        if (v == NULL)
            goto miss;
        if (PyDict_SetItem(full, PyTuple_GET_ITEM(e, 0), v) < 0)
            goto fail;
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(memos); j++) {
        PyObject *e = PyTuple_GET_ITEM(memos, j), *text = value_at(e, values), *memo = PyTuple_GET_ITEM(e, 2);
        if (text == NULL || !PyDict_CheckExact(memo))
            goto miss;
        PyObject *v = PyDict_GetItemWithError(memo, text);  /* borrowed */
        if (v == NULL || v == Py_None) {  /* the Python path treats a None entry as a miss too */
            if (PyErr_Occurred())
                goto fail;
            goto miss;
        }
        if (PyDict_SetItem(full, PyTuple_GET_ITEM(e, 0), v) < 0)
            goto fail;
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(calls); j++) {
        PyObject *e = PyTuple_GET_ITEM(calls, j), *text = value_at(e, values);
        if (text == NULL)
            goto miss;
        PyObject *v = PyObject_CallOneArg(PyTuple_GET_ITEM(e, 2), text);
        if (v == NULL) {
            /* What the Python path turns into a DecodeError naming the field: it converts again.
             * Anything else it lets through, and so does this (no second call). */
            if (!PyErr_ExceptionMatches(PyExc_ValueError) && !PyErr_ExceptionMatches(PyExc_ArithmeticError))
                goto fail;
            PyErr_Clear();
            goto miss;
        }
        int failed = PyDict_SetItem(full, PyTuple_GET_ITEM(e, 0), v);
        Py_DECREF(v);
        if (failed)
            goto fail;
    }
    return full;
miss:
    Py_DECREF(full);
    Py_RETURN_NONE;
fail:
    Py_DECREF(full);
    return NULL;
}

static PyMethodDef scan_methods[] = {
    {"split", scan_split, METH_O, "FIX text -> (tags joined by SOH, values), or None (see the module's comment)."},
    {"fill", (PyCFunction)(void (*)(void))scan_fill, METH_FASTCALL,
     "fill(template, values, texts, memos, calls) -> a plan's field dict, or None (see the module's comment)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef scan_module = {
    PyModuleDef_HEAD_INIT, "fixgw.fix._scan",
    "Splitting FIX text and filling a decoding plan in C; see fixgw.fix.codec.", -1, scan_methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&scan_module);
}
