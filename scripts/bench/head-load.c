/* head-load: a closed-loop HTTP/1.1 HEAD load generator, for scripts/compare-distribution.
 *
 * wrk cannot send HEAD to a server that answers with the Content-Length a GET would have (as
 * RFC 9110 9.3.2 asks, and every registry does): its response parser then waits for a body that
 * never comes (wg/wrk issue 198). This does what `wrk --latency` does for the other endpoints,
 * for HEAD only: THREADS threads, CONNECTIONS keep-alive connections split among them, each
 * sending its next request when the previous answer's head has arrived, for SECONDS.
 *
 * Usage: head-load HOST PORT PATH THREADS CONNECTIONS SECONDS
 * Prints one line: requests_per_second=R p99_ms=P requests=N
 * Exits 1 on any error (a refused connection, a non-2xx answer, a closed connection): a run that
 * measured errors is not a speed.
 *
 * Build: cc -O2 -pthread -o head-load head-load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latency histogram: 10 µs buckets up to 1 s; anything slower lands in the last bucket. */
#define BUCKET_MICROSECONDS 10
#define BUCKET_COUNT 100000
/* A HEAD answer's head; registries send a few hundred bytes. */
#define RESPONSE_HEAD_BYTES_MAX 8192
#define CONNECTIONS_MAX 4096
#define THREADS_MAX 256

struct connection {
    int socket;
    uint64_t sent_nanoseconds;
    size_t filled;
    char buffer[RESPONSE_HEAD_BYTES_MAX];
};

struct worker {
    pthread_t thread;
    struct sockaddr_in address;
    int connection_count;
    uint64_t deadline_nanoseconds;
    uint64_t requests;
    uint64_t buckets[BUCKET_COUNT];
    const char *failure;
};

static char request[2048];
static size_t request_bytes;

static uint64_t now_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int send_request(struct connection *connection) {
    connection->sent_nanoseconds = now_nanoseconds();
    /* A request this small always fits an idle socket's send buffer in one call. */
    ssize_t sent = send(connection->socket, request, request_bytes, MSG_NOSIGNAL);
    return sent == (ssize_t)request_bytes ? 0 : -1;
}

/* Reads what arrived; on a complete head, records it and sends the next request. 0 or an error. */
static const char *on_readable(struct worker *worker, struct connection *connection) {
    /* Bounded: each pass either fills bytes into the fixed-size buffer or returns. */
    for (;;) {
        size_t room = sizeof connection->buffer - connection->filled;
        if (room == 0) return "a response head larger than RESPONSE_HEAD_BYTES_MAX";
        ssize_t got = recv(connection->socket, connection->buffer + connection->filled, room, 0);
        if (got == 0) return "the server closed a connection";
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return NULL;
            if (errno == EINTR) continue;
            return "recv failed";
        }
        connection->filled += (size_t)got;
        char *end = memmem(connection->buffer, connection->filled, "\r\n\r\n", 4);
        if (end == NULL) continue;
        /* "HTTP/1.1 200 ..." */
        if (connection->filled < 12 || memcmp(connection->buffer, "HTTP/1.", 7) != 0 ||
            connection->buffer[9] != '2')
            return "an answer that is not 2xx";
        size_t head_bytes = (size_t)(end - connection->buffer) + 4;
        if (head_bytes != connection->filled)
            return "bytes after a HEAD answer's head (a body, or an unasked answer)";
        uint64_t latency_microseconds =
            (now_nanoseconds() - connection->sent_nanoseconds) / 1000u;
        uint64_t bucket = latency_microseconds / BUCKET_MICROSECONDS;
        worker->buckets[bucket < BUCKET_COUNT ? bucket : BUCKET_COUNT - 1]++;
        worker->requests++;
        connection->filled = 0;
        if (now_nanoseconds() >= worker->deadline_nanoseconds) return NULL;
        if (send_request(connection) != 0) return "send failed";
    }
}

static void *run_worker(void *argument) {
    struct worker *worker = argument;
    struct connection *connections = calloc((size_t)worker->connection_count, sizeof *connections);
    int poller = epoll_create1(0);
    if (connections == NULL || poller < 0) {
        worker->failure = "out of memory or epoll";
        return NULL;
    }
    for (int index = 0; index < worker->connection_count; index++) {
        struct connection *connection = &connections[index];
        connection->socket = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (connection->socket < 0 ||
            connect(connection->socket, (struct sockaddr *)&worker->address,
                    sizeof worker->address) != 0) {
            worker->failure = "connect failed";
            return NULL;
        }
        setsockopt(connection->socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = connection};
        if (epoll_ctl(poller, EPOLL_CTL_ADD, connection->socket, &event) != 0) {
            worker->failure = "epoll_ctl failed";
            return NULL;
        }
    }
    /* Sockets are blocking for connect, non-blocking from here on. */
    for (int index = 0; index < worker->connection_count; index++) {
        int flags = fcntl(connections[index].socket, F_GETFL);
        if (flags < 0 || fcntl(connections[index].socket, F_SETFL, flags | O_NONBLOCK) != 0 ||
            send_request(&connections[index]) != 0) {
            worker->failure = "send failed";
            return NULL;
        }
    }
    struct epoll_event events[256];
    /* Bounded by the deadline: epoll_wait wakes at least every 100 ms. */
    while (now_nanoseconds() < worker->deadline_nanoseconds) {
        int ready = epoll_wait(poller, events, 256, 100);
        if (ready < 0 && errno != EINTR) {
            worker->failure = "epoll_wait failed";
            break;
        }
        for (int index = 0; index < ready; index++) {
            const char *failure = on_readable(worker, events[index].data.ptr);
            if (failure != NULL) {
                worker->failure = failure;
                goto done;
            }
        }
    }
done:
    for (int index = 0; index < worker->connection_count; index++) close(connections[index].socket);
    close(poller);
    free(connections);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: head-load HOST PORT PATH THREADS CONNECTIONS SECONDS\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]), thread_count = atoi(argv[4]), connection_count = atoi(argv[5]);
    int seconds = atoi(argv[6]);
    if (port <= 0 || port > 65535 || thread_count <= 0 || thread_count > THREADS_MAX ||
        connection_count < thread_count || connection_count > CONNECTIONS_MAX || seconds <= 0) {
        fprintf(stderr, "head-load: bad arguments (1..%d threads, threads..%d connections)\n",
                THREADS_MAX, CONNECTIONS_MAX);
        return 2;
    }
    int written = snprintf(request, sizeof request,
                           "HEAD %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: head-load\r\n\r\n",
                           path, host, port);
    if (written <= 0 || (size_t)written >= sizeof request) {
        fprintf(stderr, "head-load: path too long\n");
        return 2;
    }
    request_bytes = (size_t)written;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "head-load: HOST must be an IPv4 address, not %s\n", host);
        return 2;
    }
    struct worker *workers = calloc((size_t)thread_count, sizeof *workers);
    if (workers == NULL) return 1;
    uint64_t started = now_nanoseconds();
    uint64_t deadline = started + (uint64_t)seconds * 1000000000u;
    for (int index = 0; index < thread_count; index++) {
        workers[index].address = address;
        /* Spread the connections as evenly as they divide. */
        workers[index].connection_count =
            connection_count / thread_count + (index < connection_count % thread_count);
        workers[index].deadline_nanoseconds = deadline;
        if (pthread_create(&workers[index].thread, NULL, run_worker, &workers[index]) != 0) {
            fprintf(stderr, "head-load: pthread_create failed\n");
            return 1;
        }
    }
    uint64_t requests = 0;
    const char *failure = NULL;
    for (int index = 0; index < thread_count; index++) {
        pthread_join(workers[index].thread, NULL);
        requests += workers[index].requests;
        if (workers[index].failure != NULL) failure = workers[index].failure;
    }
    double elapsed_seconds = (double)(now_nanoseconds() - started) / 1e9;
    if (failure != NULL) {
        fprintf(stderr, "head-load: %s\n", failure);
        return 1;
    }
    if (requests == 0) {
        fprintf(stderr, "head-load: no answer in %d s\n", seconds);
        return 1;
    }
    /* The 99th percentile: the first bucket at which 99% of the answers have arrived; its upper
       bound, so the figure errs slow by at most one bucket. */
    uint64_t wanted = requests - requests / 100, seen = 0;
    int bucket = 0;
    for (; bucket < BUCKET_COUNT; bucket++) {
        for (int index = 0; index < thread_count; index++) seen += workers[index].buckets[bucket];
        if (seen >= wanted) break;
    }
    printf("requests_per_second=%.2f p99_ms=%.3f requests=%llu\n",
           (double)requests / elapsed_seconds,
           (double)(bucket + 1) * BUCKET_MICROSECONDS / 1000.0, (unsigned long long)requests);
    free(workers);
    return 0;
}
