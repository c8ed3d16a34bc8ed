#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>

#ifndef __USE_GNU
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
#endif

/// accept4 with non-blocking, close-on-exec sockets and no peer address (keeps Swift away from
/// glibc's transparent-union socket arguments).
static inline int argus_accept(int fd) {
    return accept4(fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
