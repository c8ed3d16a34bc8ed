#include <sys/epoll.h>
#include <sys/uio.h>
#include <netinet/tcp.h>
