// Signal flags (see signals.hpp).
#include "signals.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace snowcdc {

namespace {

volatile std::sig_atomic_t g_stop_signals = 0;
volatile std::sig_atomic_t g_reload = 0;

extern "C" void OnStopSignal(int) {
    g_stop_signals = g_stop_signals + 1;
    if (g_stop_signals > 1)
        _exit(130);  // the operator insists: leave now, undurable data is replayed next time
}

extern "C" void OnReloadSignal(int) {
    g_reload = 1;
}

void Install(int signo, void (*handler)(int)) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a blocking poll() returns EINTR and the loop looks
    sigaction(signo, &action, nullptr);
}

}  // namespace

void InstallSignalHandlers() {
    Install(SIGTERM, OnStopSignal);
    Install(SIGINT, OnStopSignal);
    Install(SIGHUP, OnReloadSignal);
    std::signal(SIGPIPE, SIG_IGN);
}

bool StopRequested() {
    return g_stop_signals > 0;
}

bool TakeReloadRequest() {
    if (g_reload == 0)
        return false;
    g_reload = 0;
    return true;
}

}  // namespace snowcdc
