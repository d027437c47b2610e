/* The MSN monitor's express lane (see providers/msnmon/_lane.py).
 *
 * Express.run(frames, slow) feeds capture frames in order. A frame is the lane's
 * when it is Ethernet + option-less IPv4 or plain IPv6 + TCP (exactly what the
 * Python decoder's fast path accepts, its TCP header whole in the frame), carries
 * no SYN, FIN or RST, belongs to a registered flow direction, and the live state
 * says the Python path would take its common case: monitoring enabled, legacy
 * tracing off, the flow established, the context MSNP, the stream not ended with
 * nothing parked and no FIN pending, and (with data) the segment the next in
 * order. The lane then applies the Python path's effects, in the same order, to
 * the same objects. Any other frame goes to slow(linktype, ts_ns, data, wire_len).
 *
 * Sections, in order: attribute access by slot offset; frame decoding; the live
 * state checks; the packet's effects (flow table, reassembler, parser); the chunk's
 * commands (the commonest handled here, the others through MsnMonitor's methods);
 * the run loops over an iterable of frames or a classic pcap image (run_pcap).
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_bytes.h"
#include "_slots.h"
#include "packets/_frame.h"

#define VERSION 2
#define SIGNAL_EVERY 4096 /* frames between two checks for Ctrl-C */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

#define N_CONFIG 18
#define N_RUN 5

typedef struct {
    PyObject_HEAD
    union {  /* the constructor's arguments, in order */
        struct {
            PyObject *monitor, *entries, *scan_lines, *established, *msnp, *sniffing,
                *legacy_any, *command_event, *message_event, *command_type,
                *parse_error_type, *quiet_verbs, *notification, *legacy_classes, *directions,
                *plain_verbs, *transaction_event, *pipeline;
        };
        PyObject *config[N_CONFIG];
    };
    union {  /* during a run: monitor.stats, pipeline.flows, .flows._flows, .reassembler,
              * its stats */
        struct {
            PyObject *mstats, *table, *od, *re, *rstats;
        };
        PyObject *run[N_RUN];
    };
    long long packets;
} Express;

/* A decoded frame the lane may take. */
typedef struct {
    const unsigned char *key;
    Py_ssize_t key_len, off, n;
    uint32_t seq;
    long long wire;
} Frame;

static PyObject *s_stats, *s_packets, *s_flows, *s_last, *s_flows_od, *s_move_to_end, *s_key,
    *s_bytes, *s_last_ns, *s_next, *s_base, *s_starts, *s_ended, *s_fin_at, *s_state,
    *s_reassembler, *s_delivered_bytes, *s_stream_bytes, *s_parsers, *s_pending, *s_http,
    *s_failed, *s_skip_line, *s_rest, *s_base_, *s_bytes_in, *s_feed, *s_feed_lines, *s_close,
    *s_ended_list, *s_finish_ended, *s_next_expire, *s_expire, *s_enabled, *s_on, *s_verb,
    *s_trid, *s_args, *s_payload, *s_fixed_role, *s_transactions, *s_open, *s_capacity,
    *s_requests, *s_unmatched_replies, *s_messages, *s_commands, *s_evict, *s_command,
    *s_parse_error, *s_stream_failed, *s_MSG, *s_U, *s_second, *s_roles, *s_seen, *s_write,
    *s_flow_id, *s_value, *s_payload_len, *s_offset, *s_completed, *s_synced, *s_max_line, *s_max_payload,
    *s_envelope, *s_offset_shift, *s_payload_bytes, *s_await_payload, *s_raw;

/* The decoder's fast path (packets/_frame.h), restricted to TCP with its header whole in
 * the frame and to segments without SYN, FIN or RST: 1 and *f filled, or 0. ``wire`` is
 * already at least the frame length. The key is the addresses and ports, contiguous in
 * the frame (option-less IPv4 or plain IPv6). */
static int
decode_tcp(const unsigned char *d, Py_ssize_t n, long long wire, Frame *f)
{
    Fast p;
    if (n < 54 || !fast_parse(d, n, wire, &p) || p.proto != 6 || p.off > n
        || p.flags & (TCP_SYN | TCP_FIN | TCP_RST))
        return 0;
    f->key = p.src, f->key_len = 2 * p.alen + 4;
    f->seq = (uint32_t)p.seq;
    f->off = (Py_ssize_t)p.off, f->n = (Py_ssize_t)p.plen;
    f->wire = wire;
    return 1;
}

/* list[i] += n for a list of two ints. */
static int
add_item(PyObject *list, Py_ssize_t i, long long n)
{
    if (!PyList_CheckExact(list) || PyList_GET_SIZE(list) <= i) {
        PyErr_SetString(PyExc_TypeError, "express lane: expected a list of counters");
        return -1;
    }
    long long v = PyLong_AsLongLong(PyList_GET_ITEM(list, i));
    if (v == -1 && PyErr_Occurred())
        return -1;
    PyObject *sum = PyLong_FromLongLong(v + n);
    return sum ? PyList_SetItem(list, i, sum) : -1;
}

/* May the stream take this segment the in-order way (or, bare, need nothing)? */
static int
stream_ready(PyObject *st, const Frame *f)
{
    int r;
    if ((r = attr_true(st, s_ended)) != 0 || (r = attr_true(st, s_starts)) != 0)
        return r < 0 ? -1 : 0;
    if ((r = attr_is(st, s_fin_at, Py_None)) != 1)
        return r;
    if (f->n == 0)
        return 1;
    PyObject *base = fast_get(st, s_base);
    if (base == NULL)
        return -1;
    if (base == Py_None) {
        Py_DECREF(base);
        return 0;
    }
    long long b = PyLong_AsLongLong(base), next;
    Py_DECREF(base);
    if ((b == -1 && PyErr_Occurred()) || get_ll(st, s_next, &next) < 0)
        return -1;
    return (uint32_t)(((unsigned long long)b + (unsigned long long)next) & 0xFFFFFFFFu) == f->seq;
}

/* Would the Python path take this frame of this entry's flow the common way? */
static int
entry_ready(Express *self, PyObject *entry, const Frame *f)
{
    PyObject *flow = PyTuple_GET_ITEM(entry, 0), *st = PyTuple_GET_ITEM(entry, 2),
             *ctx = PyTuple_GET_ITEM(entry, 3);
    int r;
    if ((r = attr_true(self->monitor, s_enabled)) != 1)
        return r;
    if ((r = attr_true(self->legacy_any, s_on)) != 0)
        return r < 0 ? -1 : 0;
    if ((r = attr_is(flow, s_state, self->established)) != 1)
        return r;
    if ((r = attr_is(ctx, s_state, self->msnp)) != 1)
        return r;
    return stream_ready(st, f);
}

/* FlowTable.account's effects for an established flow's packet without FIN or RST. */
static int
account(Express *self, PyObject *flow, Py_ssize_t side, const Frame *f, long long ts)
{
    PyObject *last = fast_get(self->table, s_last);
    if (last == NULL)
        return -1;
    Py_DECREF(last);  /* only compared */
    if (last != flow) {
        PyObject *key = fast_get(flow, s_key);
        PyObject *res = key ? PyObject_CallMethodOneArg(self->od, s_move_to_end, key) : NULL;
        Py_XDECREF(key);
        if (res == NULL)
            return -1;
        Py_DECREF(res);
        if (fast_set(self->table, s_last, flow) < 0)
            return -1;
    }
    PyObject *packets = fast_get(flow, s_packets);
    int rc = packets ? add_item(packets, side, 1) : -1;
    Py_XDECREF(packets);
    if (rc == 0) {
        PyObject *bytes = fast_get(flow, s_bytes);
        rc = bytes ? add_item(bytes, side, f->wire) : -1;
        Py_XDECREF(bytes);
    }
    return rc == 0 ? set_ll(flow, s_last_ns, ts) : -1;
}

/* Is the parser in its common state (nothing held, not given up; the scan syncs it)? */
static int
parser_plain(PyObject *parser)
{
    int r;
    if ((r = attr_is(parser, s_pending, Py_None)) != 1 || (r = attr_is(parser, s_http, Py_None)) != 1
        || (r = attr_is(parser, s_failed, Py_None)) != 1)
        return r;
    if ((r = attr_true(parser, s_skip_line)) != 0 || (r = attr_true(parser, s_rest)) != 0)
        return r < 0 ? -1 : 0;
    return 1;
}

/* Apply one scan's result to the parser (what MsnpStreamParser._scan does): its sync
 * flag, its counters and a command awaiting its payload; the position the scan stopped
 * at (-1: a payload is awaited), or -2 on error. */
static Py_ssize_t
scan_apply(PyObject *parser, PyObject *data, PyObject *synced, PyObject *res, PyObject *out)
{
    if (!PyTuple_CheckExact(res) || PyTuple_GET_SIZE(res) != 5) {
        PyErr_SetString(PyExc_TypeError, "express lane: unexpected scan_lines result");
        return -2;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(PyTuple_GET_ITEM(res, 0));
    long long commands = PyLong_AsLongLong(PyTuple_GET_ITEM(res, 1));
    long long payload_bytes = PyLong_AsLongLong(PyTuple_GET_ITEM(res, 2));
    PyObject *pending = PyTuple_GET_ITEM(res, 4);
    if (PyErr_Occurred())
        return -2;
    if (PyTuple_GET_ITEM(res, 3) != synced
        && fast_set(parser, s_synced, PyTuple_GET_ITEM(res, 3)) < 0)
        return -2;
    if (commands) {
        PyObject *stats = fast_get(parser, s_stats);
        int rc = stats && add_attr(stats, s_commands, commands) == 0
                 && add_attr(stats, s_payload_bytes, payload_bytes) == 0 ? 0 : -1;
        Py_XDECREF(stats);
        if (rc < 0)
            return -2;
    }
    if (pending == Py_None)
        return pos;
    PyObject *rest = PyBytes_FromStringAndSize(PyBytes_AS_STRING(data) + pos,
                                               PyBytes_GET_SIZE(data) - pos);
    PyObject *held = rest ? PyObject_CallMethodObjArgs(parser, s_await_payload, pending, rest,
                                                       out, NULL) : NULL;
    Py_XDECREF(rest);
    Py_XDECREF(held);
    return held ? -1 : -2;
}

/* scan_lines(...) over the whole of ``data`` for the parser in its current state
 * (*synced: the sync flag it had, a borrowed reference valid while the result lives). */
static PyObject *
scan_call(Express *self, PyObject *parser, PyObject *data, PyObject *base_obj, PyObject *out,
          PyObject **synced_out)
{
    long long base = PyLong_AsLongLong(base_obj), shift;
    if ((base == -1 && PyErr_Occurred()) || get_ll(parser, s_offset_shift, &shift) < 0)
        return NULL;
    PyObject *synced = fast_get(parser, s_synced), *max_line = fast_get(parser, s_max_line),
             *max_payload = fast_get(parser, s_max_payload),
             *envelope = fast_get(parser, s_envelope), *zero = PyLong_FromLong(0),
             *shift_obj = PyLong_FromLongLong(base + shift), *res = NULL;
    if (synced && max_line && max_payload && envelope && zero && shift_obj) {
        PyObject *argv[9] = {data, zero, base_obj, synced, max_line, max_payload, shift_obj,
                             envelope, out};
        res = PyObject_Vectorcall(self->scan_lines, argv, 9, NULL);
    }
    *synced_out = synced;  /* (True or False: immortal enough while the result lives) */
    Py_XDECREF(synced);
    Py_XDECREF(max_line);
    Py_XDECREF(max_payload);
    Py_XDECREF(envelope);
    Py_XDECREF(zero);
    Py_XDECREF(shift_obj);
    return res;
}

/* MsnpStreamParser.feed(data) for a parser in its common state: the scan, and the
 * Python general path from the first line the scan leaves. A new list or NULL. */
static PyObject *
feed_plain(Express *self, PyObject *parser, PyObject *data)
{
    PyObject *out = PyList_New(0), *base_obj = NULL, *res = NULL;
    long long base;
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if (out == NULL || add_sub(parser, s_stats, s_bytes_in, size) < 0
        || (base_obj = fast_get(parser, s_base_)) == NULL)
        goto fail;
    base = PyLong_AsLongLong(base_obj);
    PyObject *synced = NULL;
    if (PyErr_Occurred()
        || (res = scan_call(self, parser, data, base_obj, out, &synced)) == NULL)
        goto fail;
    Py_ssize_t pos = scan_apply(parser, data, synced, res, out);
    if (pos == -2)
        goto fail;
    if (pos == size) {  /* all parsed: what _feed_lines does then */
        if (set_ll(parser, s_base_, base + size) < 0)
            goto fail;
    }
    else if (pos >= 0) {  /* (-1: a payload is awaited, nothing else to do) */
        PyObject *at = PyLong_FromSsize_t(pos);
        PyObject *more = at ? PyObject_CallMethodObjArgs(parser, s_feed_lines, data, out, at,
                                                         NULL) : NULL;
        Py_XDECREF(at);
        if (more == NULL)
            goto fail;
        Py_DECREF(more);
    }
    Py_DECREF(res);
    Py_DECREF(base_obj);
    return out;
fail:
    Py_XDECREF(res);
    Py_XDECREF(base_obj);
    Py_XDECREF(out);
    return NULL;
}

/* TransactionTracker.observe for a client's command with a TrID: a request, unless it
 * is an unacknowledged MSG (MSG trid U); 1, or -1 on error. */
static int
track_request(PyObject *tracker, PyObject *cmd, PyObject *trid, long long ts, int is_msg)
{
    if (is_msg) {
        PyObject *args = fast_get(cmd, s_args);
        if (args == NULL)
            return -1;
        int unacked = PyTuple_Check(args) && PyTuple_GET_SIZE(args) > 0
                      && PyUnicode_Check(PyTuple_GET_ITEM(args, 0))
                      && PyUnicode_Compare(PyTuple_GET_ITEM(args, 0), s_U) == 0;
        Py_DECREF(args);
        if (unacked)
            return 1;
    }
    PyObject *pending = NULL, *t = NULL, *secs = NULL, *value = NULL;
    int r = -1;
    if (add_sub(tracker, s_stats, s_requests, 1) < 0
        || (pending = fast_get(tracker, s_open)) == NULL || !PyDict_CheckExact(pending)
        || (t = PyLong_FromLongLong(ts)) == NULL
        || (secs = PyNumber_TrueDivide(t, s_second)) == NULL
        || (value = PyTuple_Pack(2, cmd, secs)) == NULL)
        goto done;
    int had = PyDict_Contains(pending, trid);
    if (had < 0 || (had && PyDict_DelItem(pending, trid) < 0)
        || PyDict_SetItem(pending, trid, value) < 0)
        goto done;
    long long capacity;
    if (get_ll(tracker, s_capacity, &capacity) < 0)
        goto done;
    if (PyDict_GET_SIZE(pending) > capacity) {
        PyObject *res = PyObject_CallMethodNoArgs(tracker, s_evict);
        if (res == NULL)
            goto done;
        Py_DECREF(res);
    }
    r = 1;
done:
    if (r < 0 && pending != NULL && !PyDict_CheckExact(pending) && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "express lane: pending requests are not a dict");
    Py_XDECREF(pending);
    Py_XDECREF(t);
    Py_XDECREF(secs);
    Py_XDECREF(value);
    return r;
}

/* Does bytes ``hay`` contain ``needle``? (The monitor's _LEARNS_ADDRESSES markers.) */
static int
contains(PyObject *hay, const char *needle)
{
    return memmem(PyBytes_AS_STRING(hay), (size_t)PyBytes_GET_SIZE(hay), needle,
                  strlen(needle)) != NULL;
}

/* Is ``verb`` one whose _command changes nothing but counters, the Command event and
 * the transaction (no ledger, no address book, no role change)? With a fixed role,
 * any verb of plain_verbs and MSG; without one, a quiet verb once notification
 * evidence was seen (observing it again changes nothing). 1, 0, or -1 on error. */
static int
verb_plain(Express *self, PyObject *ctx, PyObject *verb, int is_msg)
{
    int unfixed = attr_is(ctx, s_fixed_role, Py_None);
    if (unfixed < 0)
        return -1;
    if (!unfixed)
        return is_msg ? 1 : PySet_Contains(self->plain_verbs, verb);
    if (is_msg)
        return 0;  /* (a hint may fix the role at the first command) */
    int r = PySet_Contains(self->quiet_verbs, verb);
    if (r != 1)
        return r;
    PyObject *roles = fast_get(ctx, s_roles);
    PyObject *seen = roles ? fast_get(roles, s_seen) : NULL;
    r = seen && PySet_Check(seen) ? PySet_Contains(seen, self->notification) : -1;
    if (seen && !PySet_Check(seen) && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "express lane: RoleTracker._seen is not a set");
    Py_XDECREF(roles);
    Py_XDECREF(seen);
    return r;
}

/* A MSG whose payload the monitor would look at (events, the address book)? */
static int
msg_needs_python(Express *self, PyObject *cmd)
{
    int r = attr_true(self->message_event, s_enabled);
    if (r != 0)
        return r;
    PyObject *payload = fast_get(cmd, s_payload);
    if (payload == NULL)
        return -1;
    r = !PyBytes_Check(payload) || contains(payload, "x-msmsgsinvite")
        || contains(payload, "x-msnmsgrp2p");
    Py_DECREF(payload);
    return r;
}

/* The transaction step of _command (TransactionTracker.observe and the count of
 * completed ones), unless it completes one while Transaction events are on: 1 done
 * (with ``apply``; else only checked), 0 to leave it to Python, -1 on error. */
static int
quiet_transaction(Express *self, PyObject *ctx, PyObject *cmd, PyObject *trid, int sent,
                  int is_msg, long long ts, int apply)
{
    PyObject *tracker = fast_get(ctx, s_transactions);
    if (tracker == NULL)
        return -1;
    int r = 1;
    if (!sent) {
        PyObject *pending = fast_get(tracker, s_open);
        int found = pending && PyDict_CheckExact(pending) ? PyDict_Contains(pending, trid) : -1;
        if (found > 0 && (r = attr_true(self->transaction_event, s_enabled)) >= 0)
            r = !r;  /* a transaction completes: here only if nobody traces it */
        else if (found < 0)
            r = -1;
        if (r == 1 && apply && found) {  /* the request's entry goes, both counts rise */
            if (PyDict_DelItem(pending, trid) < 0
                || add_sub(tracker, s_stats, s_completed, 1) < 0
                || add_sub(self->monitor, s_stats, s_transactions, 1) < 0)
                r = -1;
        }
        else if (r == 1 && apply) {  /* a reply to nothing: counted unless TrID 0 */
            int nonzero = PyObject_IsTrue(trid);
            if (nonzero < 0 || (nonzero && add_sub(tracker, s_stats, s_unmatched_replies, 1) < 0))
                r = -1;
        }
        Py_XDECREF(pending);
    }
    else if (apply)
        r = track_request(tracker, cmd, trid, ts, is_msg);
    Py_DECREF(tracker);
    return r;
}

/* The Command event _command writes (COMMAND.write), for a command whose role is
 * ``role`` and whose legacy class is ``legacy``. 0, or -1 on error. */
static int
write_command(Express *self, PyObject *ctx, PyObject *cmd, PyObject *verb, PyObject *trid,
              int sent, long long ts, PyObject *role, PyObject *legacy)
{
    PyObject *write = fast_get(self->command_event, s_write);
    PyObject *flow_id = fast_get(ctx, s_flow_id), *args = fast_get(cmd, s_args);
    PyObject *arglist = args ? PySequence_List(args) : NULL;
    PyObject *value = fast_get(role, s_value), *ts_obj = PyLong_FromLongLong(ts);
    PyObject *payload_len = fast_get(cmd, s_payload_len), *offset = fast_get(cmd, s_offset);
    PyObject *raw = fast_get(cmd, s_raw), *res = NULL;
    if (write && flow_id && arglist && value && ts_obj && payload_len && offset && raw) {
        PyObject *argv[11] = {ts_obj, flow_id, PyTuple_GET_ITEM(self->directions, !sent), verb,
                              trid, arglist, payload_len, value, legacy, offset, raw};
        res = PyObject_Vectorcall(write, argv, 11, NULL);
    }
    Py_XDECREF(raw);
    Py_XDECREF(write);
    Py_XDECREF(flow_id);
    Py_XDECREF(args);
    Py_XDECREF(arglist);
    Py_XDECREF(value);
    Py_XDECREF(ts_obj);
    Py_XDECREF(payload_len);
    Py_XDECREF(offset);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* A command the Python _command would only count, trace (the Command event) and pass
 * to the transaction tracker (see verb_plain): the commonest MSG, replies such as ACK,
 * quiet verbs. 1 if it is one, and then its effects are done here, in _command's
 * order; 0 to leave it to Python; -1 on error. */
static int
plain_command(Express *self, PyObject *ctx, PyObject *cmd, int sent, long long ts)
{
    PyObject *verb = fast_get(cmd, s_verb), *trid = NULL, *role = NULL, *legacy = NULL;
    if (verb == NULL)
        return -1;
    int is_msg = PyUnicode_Compare(verb, s_MSG) == 0;
    int r = PyErr_Occurred() ? -1 : verb_plain(self, ctx, verb, is_msg);
    if (r == 1 && is_msg && (r = msg_needs_python(self, cmd)) >= 0)
        r = !r;
    if (r == 1 && (trid = fast_get(cmd, s_trid)) == NULL)
        r = -1;
    if (r == 1 && trid != Py_None)
        r = quiet_transaction(self, ctx, cmd, trid, sent, is_msg, ts, 0);
    int tracing = r == 1 ? attr_true(self->command_event, s_enabled) : 0;
    if (tracing < 0)
        r = -1;
    if (tracing > 0) {  /* the role _command gives it (see verb_plain) and its class */
        if ((role = fast_get(ctx, s_fixed_role)) == NULL)
            r = -1;
        else if (role == Py_None)
            Py_SETREF(role, Py_NewRef(self->notification));
        if (r == 1 && (legacy = PyDict_GetItemWithError(self->legacy_classes, verb)) == NULL)
            r = PyErr_Occurred() ? -1 : 0;  /* not cached yet: Python works it out */
        if (r == 1 && write_command(self, ctx, cmd, verb, trid, sent, ts, role, legacy) < 0)
            r = -1;
    }
    if (r == 1 && is_msg && (add_sub(self->monitor, s_stats, s_messages, 1) < 0
                             || add_attr(ctx, s_messages, 1) < 0))
        r = -1;
    if (r == 1 && trid != Py_None)
        r = quiet_transaction(self, ctx, cmd, trid, sent, is_msg, ts, 1);
    Py_DECREF(verb);
    Py_XDECREF(trid);
    Py_XDECREF(role);
    return r;
}

/* MsnMonitor._items in C: the plain commands here (plain_command), any other item
 * through the monitor's own methods, in order. */
static int
handle_items(Express *self, PyObject *ctx, PyObject *dir, int sent, PyObject *parser,
             PyObject *items, long long ts)
{
    long long commands = 0;
    PyObject *ts_obj = NULL;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i), *res = NULL;
        PyObject *type = (PyObject *)Py_TYPE(item), *method = NULL;
        if (type == self->command_type) {
            commands++;
            int plain = plain_command(self, ctx, item, sent, ts);
            if (plain != 0) {
                rc = plain < 0 ? -1 : 0;
                continue;
            }
            method = s_command;
        }
        else if (type == self->parse_error_type)
            method = s_parse_error;
        else
            continue;
        if (ts_obj == NULL && (ts_obj = PyLong_FromLongLong(ts)) == NULL) {
            rc = -1;
            break;
        }
        if (method == s_command)
            res = PyObject_CallMethodObjArgs(self->monitor, method, ctx, item, dir, ts_obj, NULL);
        else
            res = PyObject_CallMethodObjArgs(self->monitor, method, ctx, dir, item, ts_obj, NULL);
        rc = res ? 0 : -1;
        Py_XDECREF(res);
    }
    Py_XDECREF(ts_obj);
    if (rc == 0 && commands && (add_attr(self->mstats, s_commands, commands) < 0
                                || add_attr(ctx, s_commands, commands) < 0))
        rc = -1;
    int ok = rc == 0 ? attr_is(parser, s_failed, Py_None) : -1;
    if (ok == 0) {
        PyObject *res = PyObject_CallMethodObjArgs(self->monitor, s_stream_failed, ctx, dir,
                                                   parser, NULL);
        Py_XDECREF(res);
        ok = res ? 1 : -1;
    }
    return ok < 0 ? -1 : 0;
}

/* The data part: reassembler, monitor.on_data and _chunk's parse, then the state check. */
static int
deliver(Express *self, PyObject *entry, PyObject *data, long long ts)
{
    PyObject *flow = PyTuple_GET_ITEM(entry, 0), *st = PyTuple_GET_ITEM(entry, 2),
             *ctx = PyTuple_GET_ITEM(entry, 3), *dir = PyTuple_GET_ITEM(entry, 4);
    Py_ssize_t n = PyBytes_GET_SIZE(data), direction = PyLong_AsSsize_t(dir);
    PyObject *cbytes = NULL, *parsers = NULL, *items = NULL, *res = NULL, *state = NULL;
    /* (direction 0 is SENT: the monitor's _context module) */
    int rc = -1;
    if (add_attr(st, s_next, n) < 0 || add_attr(self->rstats, s_delivered_bytes, n) < 0
        || (cbytes = fast_get(ctx, s_bytes)) == NULL || add_item(cbytes, direction, n) < 0
        || add_attr(self->mstats, s_stream_bytes, n) < 0
        || (parsers = fast_get(ctx, s_parsers)) == NULL)
        goto done;
    PyObject *parser = PySequence_GetItem(parsers, direction);
    if (parser == NULL)
        goto done;
    int plain = parser_plain(parser);
    if (plain == 1)
        items = feed_plain(self, parser, data);
    else if (plain == 0)
        items = PyObject_CallMethodOneArg(parser, s_feed, data);
    int handled = items ? handle_items(self, ctx, dir, direction == 0, parser, items, ts) : -1;
    Py_DECREF(parser);
    if (handled < 0 || (state = fast_get(ctx, s_state)) == NULL)
        goto done;
    if (state != self->msnp && state != self->sniffing) {
        Py_XSETREF(res, PyObject_CallMethodOneArg(self->re, s_close, flow));
        if (res == NULL)
            goto done;
    }
    rc = 0;
done:
    Py_XDECREF(cbytes);
    Py_XDECREF(parsers);
    Py_XDECREF(items);
    Py_XDECREF(res);
    Py_XDECREF(state);
    return rc;
}

/* After the packet: flows ended meanwhile, and the once-a-second expiry. */
static int
after_packet(Express *self, long long ts)
{
    int r = attr_true(self->pipeline, s_ended_list);
    if (r < 0)
        return -1;
    if (r) {
        PyObject *res = PyObject_CallMethodNoArgs(self->pipeline, s_finish_ended);
        if (res == NULL)
            return -1;
        Py_DECREF(res);
    }
    long long next;
    if (get_ll(self->pipeline, s_next_expire, &next) < 0)
        return -1;
    if (ts >= next) {
        PyObject *t = PyLong_FromLongLong(ts);
        PyObject *res = t ? PyObject_CallMethodOneArg(self->pipeline, s_expire, t) : NULL;
        Py_XDECREF(t);
        if (res == NULL)
            return -1;
        Py_DECREF(res);
    }
    return 0;
}

/* Take the frame if it is the lane's: 1 taken, 0 not, -1 error. */
static int
take(Express *self, const unsigned char *d, Py_ssize_t size, long long ts, long long wire)
{
    Frame f;
    if (!decode_tcp(d, size, wire < size ? size : wire, &f))
        return 0;
    PyObject *key = PyBytes_FromStringAndSize((const char *)f.key, f.key_len);
    if (key == NULL)
        return -1;
    PyObject *entry = PyDict_GetItemWithError(self->entries, key);
    Py_DECREF(key);
    if (entry == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 5) {
        PyErr_SetString(PyExc_TypeError, "express lane: bad entry");
        return -1;
    }
    Py_INCREF(entry);  /* the Python code called below may unregister it */
    int rc = entry_ready(self, entry, &f);
    if (rc == 1) {
        Py_ssize_t side = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 1));
        if (add_attr(self->mstats, s_packets, 1) < 0
            || account(self, PyTuple_GET_ITEM(entry, 0), side, &f, ts) < 0)
            rc = -1;
        else if (f.n > 0) {
            PyObject *chunk = PyBytes_FromStringAndSize((const char *)d + f.off, f.n);
            rc = chunk && deliver(self, entry, chunk, ts) == 0 ? 1 : -1;
            Py_XDECREF(chunk);
        }
        if (rc == 1 && after_packet(self, ts) < 0)
            rc = -1;
        self->packets += rc == 1;
    }
    Py_DECREF(entry);
    return rc;
}

/* One frame: the lane's, or slow(linktype, ts_ns, data, wire_len) with ``data`` (made
 * from the frame's bytes when NULL). 0, or -1 on error. */
static int
frame(Express *self, long long lt, long long ts, const unsigned char *d, Py_ssize_t n,
      long long wire, PyObject *data, PyObject *slow)
{
    if (lt == 1) {
        int taken = take(self, d, n, ts, wire);
        if (taken)
            return taken < 0 ? -1 : 0;
    }
    PyObject *argv[4] = {PyLong_FromLongLong(lt), PyLong_FromLongLong(ts),
                         data ? Py_NewRef(data) : PyBytes_FromStringAndSize((const char *)d, n),
                         PyLong_FromLongLong(wire)};
    PyObject *res = NULL;
    if (argv[0] && argv[1] && argv[2] && argv[3])
        res = PyObject_Vectorcall(slow, argv, 4, NULL);
    for (int i = 0; i < 4; i++)
        Py_XDECREF(argv[i]);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* Fetch what a run uses on every packet (none of it is replaced during a run). */
static int
begin_run(Express *self)
{
    if (self->monitor == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "express lane: not initialised");
        return -1;
    }
    Py_XSETREF(self->mstats, fast_get(self->monitor, s_stats));
    Py_XSETREF(self->table, fast_get(self->pipeline, s_flows));
    Py_XSETREF(self->od, self->table ? fast_get(self->table, s_flows_od) : NULL);
    Py_XSETREF(self->re, fast_get(self->pipeline, s_reassembler));
    Py_XSETREF(self->rstats, self->re ? fast_get(self->re, s_stats) : NULL);
    return self->mstats && self->table && self->od && self->re && self->rstats ? 0 : -1;
}

static void
end_run(Express *self)
{
    for (int i = 0; i < N_RUN; i++)
        Py_CLEAR(self->run[i]);
}

/* (linktype, ts_ns, data, wire_len, ...) -> the lane, or the slow path. */
static int
one_tuple(Express *self, PyObject *t, PyObject *slow)
{
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 4) {
        PyErr_SetString(PyExc_TypeError,
                        "express lane: a frame is (linktype, ts_ns, data, wire_len, ...)");
        return -1;
    }
    PyObject *lt_obj = PyTuple_GET_ITEM(t, 0), *ts_obj = PyTuple_GET_ITEM(t, 1),
             *data = PyTuple_GET_ITEM(t, 2), *wire_obj = PyTuple_GET_ITEM(t, 3);
    long long lt = -1, ts = 0, wire = 0;
    if (PyLong_CheckExact(lt_obj) && PyBytes_CheckExact(data) && PyLong_CheckExact(ts_obj)
        && PyLong_CheckExact(wire_obj)) {
        lt = PyLong_AsLongLong(lt_obj), ts = PyLong_AsLongLong(ts_obj),
        wire = PyLong_AsLongLong(wire_obj);
        if (PyErr_Occurred()) {
            PyErr_Clear();  /* out of range: the Python path copes */
            lt = -1;
        }
    }
    if (lt == 1)
        return frame(self, lt, ts, (const unsigned char *)PyBytes_AS_STRING(data),
                     PyBytes_GET_SIZE(data), wire, data, slow);
    PyObject *argv[4] = {lt_obj, ts_obj, data, wire_obj};
    PyObject *res = PyObject_Vectorcall(slow, argv, 4, NULL);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

PyDoc_STRVAR(run_doc,
"run(frames, slow)\n\n"
"Feed every frame of the iterable ``frames`` in order: the lane's own here, the\n"
"others to ``slow(linktype, ts_ns, data, wire_len)``.");

static PyObject *
Express_run(Express *self, PyObject *args)
{
    PyObject *frames, *slow;
    if (!PyArg_ParseTuple(args, "OO:run", &frames, &slow) || begin_run(self) < 0) {
        end_run(self);
        return NULL;
    }
    PyObject *it = PyObject_GetIter(frames), *t;
    if (it != NULL) {
        for (unsigned long count = 1; (t = PyIter_Next(it)) != NULL; count++) {
            int rc = one_tuple(self, t, slow);
            Py_DECREF(t);
            if (rc < 0 || (count % SIGNAL_EVERY == 0 && PyErr_CheckSignals() < 0))
                break;
        }
        Py_DECREF(it);
    }
    end_run(self);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

#define DONE_EVERY (16 << 20) /* bytes between two calls of run_pcap's ``done`` */

/* The classic pcap file's header, as providers.packets.classic_pcap_header reads it. */
typedef struct {
    int big;
    long long mult, linktype, max_frame;
} PcapInfo;

/* The records after the 24-byte header of a classic pcap image, as the Python reader
 * yields them (and with its errors: ``error`` is its exception class). */
static int
pcap_records(Express *self, const unsigned char *buf, Py_ssize_t size, const PcapInfo *info,
             PyObject *slow, PyObject *error, PyObject *done)
{
    Py_ssize_t reported = 0, pos = 24;
    unsigned long count = 0;
    int big = info->big;
    while (pos < size) {
        if (size - pos < 16) {
            PyErr_Format(error, "file ends inside a record (%zd/16 bytes)", size - pos);
            return -1;
        }
        PcapRecord r;
        int whole = pcap_record(buf + pos, size - pos - 16, big, (unsigned long long)info->mult,
                                (unsigned long long)info->max_frame, &r);
        if (whole < 0) {
            PyErr_Format(error, "corrupt pcap record: captured length %u", r.caplen);
            return -1;
        }
        pos += 16;
        if (!whole) {
            PyErr_Format(error, "file ends inside a record (%zd/%u bytes)", size - pos, r.caplen);
            return -1;
        }
        long long ts = (long long)r.ts, wire = r.wire;
        uint32_t caplen = r.caplen;
        if (frame(self, info->linktype, ts, buf + pos, caplen, wire, NULL, slow) < 0
            || (++count % SIGNAL_EVERY == 0 && PyErr_CheckSignals() < 0))
            return -1;
        pos += caplen;
        if (done != Py_None && pos - reported >= DONE_EVERY) {
            PyObject *res = PyObject_CallFunction(done, "n", pos);
            if (res == NULL)
                return -1;
            Py_DECREF(res);
            reported = pos;
        }
    }
    return 0;
}

PyDoc_STRVAR(run_pcap_doc,
"run_pcap(image, big_endian, mult, linktype, max_frame, slow, error, done=None)\n\n"
"Like run() over the records of a classic pcap file's bytes (e.g. an mmap) whose header\n"
"says ``big_endian``, ``mult`` and ``linktype`` (providers.packets.classic_pcap_header),\n"
"with the Python reader's errors (``error``: its exception class; ``max_frame``: its\n"
"bound). ``done(offset)`` is called every 16 MB with how far it got (nothing refers to\n"
"the bytes before).");

static PyObject *
Express_run_pcap(Express *self, PyObject *args)
{
    PyObject *image, *slow, *error, *done = Py_None;
    PcapInfo info;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "OpLLLOO|O:run_pcap", &image, &info.big, &info.mult,
                          &info.linktype, &info.max_frame, &slow, &error, &done)
        || PyObject_GetBuffer(image, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int rc = begin_run(self);
    if (rc == 0)
        rc = pcap_records(self, view.buf, view.len, &info, slow, error, done);
    end_run(self);
    PyBuffer_Release(&view);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
Express_init(Express *self, PyObject *args, PyObject *kwds)
{
    PyObject *a[N_CONFIG];
    if (!PyArg_ParseTuple(args, "OO!OOOOOOOOOO!OO!O!O!OO:Express", &a[0], &PyDict_Type, &a[1],
                          &a[2], &a[3], &a[4], &a[5], &a[6], &a[7], &a[8], &a[9], &a[10],
                          &PyFrozenSet_Type, &a[11], &a[12], &PyDict_Type, &a[13],
                          &PyTuple_Type, &a[14], &PyFrozenSet_Type, &a[15], &a[16], &a[17]))
        return -1;
    if (PyTuple_GET_SIZE(a[14]) != 2) {
        PyErr_SetString(PyExc_ValueError, "Express: directions is (sent, received)");
        return -1;
    }
    for (int i = 0; i < N_CONFIG; i++)
        Py_XSETREF(self->config[i], Py_NewRef(a[i]));
    return 0;
}

static int
Express_traverse(Express *self, visitproc visit, void *arg)
{
    for (int i = 0; i < N_CONFIG; i++)
        Py_VISIT(self->config[i]);
    for (int i = 0; i < N_RUN; i++)
        Py_VISIT(self->run[i]);
    return 0;
}

static int
Express_clear(Express *self)
{
    for (int i = 0; i < N_CONFIG; i++)
        Py_CLEAR(self->config[i]);
    end_run(self);
    return 0;
}

static void
Express_dealloc(Express *self)
{
    PyObject_GC_UnTrack(self);
    Express_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Express_methods[] = {
    {"run", (PyCFunction)Express_run, METH_VARARGS, run_doc},
    {"run_pcap", (PyCFunction)Express_run_pcap, METH_VARARGS, run_pcap_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Express_members[] = {
    {"packets", T_LONGLONG, offsetof(Express, packets), READONLY, "frames the lane took"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject ExpressType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "providers.msnmon._cexpress.Express",
    .tp_basicsize = sizeof(Express),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Express(monitor, entries, scan_lines, established, msnp, sniffing, legacy_any, "
              "command_event, message_event, Command, ParseError, quiet_verbs, notification, "
              "legacy_classes, directions, plain_verbs, transaction_event, pipeline)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Express_init,
    .tp_traverse = (traverseproc)Express_traverse,
    .tp_clear = (inquiry)Express_clear,
    .tp_dealloc = (destructor)Express_dealloc,
    .tp_methods = Express_methods,
    .tp_members = Express_members,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "providers.msnmon._cexpress",
    "The MSN monitor's express lane (see providers/msnmon/_lane.py).", -1, NULL,
};

static int
intern_names(void)
{
    struct { PyObject **slot; const char *name; } names[] = {
        {&s_stats, "stats"}, {&s_packets, "packets"}, {&s_flows, "flows"}, {&s_last, "_last"},
        {&s_flows_od, "_flows"}, {&s_move_to_end, "move_to_end"}, {&s_key, "key"},
        {&s_bytes, "bytes"}, {&s_last_ns, "last_ns"}, {&s_next, "next"}, {&s_base, "base"},
        {&s_starts, "starts"}, {&s_ended, "ended"}, {&s_fin_at, "fin_at"}, {&s_state, "state"},
        {&s_reassembler, "reassembler"}, {&s_delivered_bytes, "delivered_bytes"},
        {&s_stream_bytes, "stream_bytes"}, {&s_parsers, "parsers"}, {&s_pending, "_pending"},
        {&s_http, "_http"}, {&s_failed, "failed"}, {&s_skip_line, "_skip_line"},
        {&s_rest, "_rest"}, {&s_base_, "_base"}, {&s_bytes_in, "bytes_in"}, {&s_feed, "feed"},
        {&s_feed_lines, "_feed_lines"}, {&s_close, "close"}, {&s_ended_list, "_ended"},
        {&s_finish_ended, "finish_ended"}, {&s_next_expire, "next_expire"},
        {&s_expire, "expire"}, {&s_enabled, "enabled"}, {&s_on, "on"}, {&s_verb, "verb"},
        {&s_trid, "trid"}, {&s_args, "args"}, {&s_payload, "payload"},
        {&s_fixed_role, "fixed_role"}, {&s_transactions, "transactions"}, {&s_open, "_open"},
        {&s_capacity, "capacity"}, {&s_requests, "requests"},
        {&s_unmatched_replies, "unmatched_replies"}, {&s_messages, "messages"},
        {&s_commands, "commands"}, {&s_evict, "_evict"}, {&s_command, "_command"},
        {&s_parse_error, "_parse_error"}, {&s_stream_failed, "_stream_failed"},
        {&s_MSG, "MSG"}, {&s_U, "U"}, {&s_roles, "roles"}, {&s_seen, "_seen"},
        {&s_write, "write"}, {&s_flow_id, "flow_id"}, {&s_value, "value"},
        {&s_payload_len, "payload_len"}, {&s_offset, "offset"}, {&s_completed, "completed"},
        {&s_synced, "_synced"}, {&s_max_line, "max_line"}, {&s_max_payload, "max_payload"},
        {&s_envelope, "envelope"}, {&s_offset_shift, "offset_shift"},
        {&s_payload_bytes, "payload_bytes"}, {&s_await_payload, "_await_payload"},
        {&s_raw, "raw"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((*names[i].slot = PyUnicode_InternFromString(names[i].name)) == NULL)
            return -1;
    s_second = PyLong_FromLong(1000000000L);
    return s_second ? 0 : -1;
}

PyMODINIT_FUNC
PyInit__cexpress(void)
{
    if (intern_names() < 0 || PyType_Ready(&ExpressType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "VERSION", VERSION) < 0
        || PyModule_AddObjectRef(m, "Express", (PyObject *)&ExpressType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
