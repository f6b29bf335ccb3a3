// Signals: handlers only set flags; SIGHUP is reported once per signal, SIGTERM asks for a
// stop, SIGPIPE no longer kills the process, and a second SIGTERM exits at once with 130.
#include "signals.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

namespace snowcdc {
namespace {

TEST(SignalsTest, FlagsAreSetAndReloadIsTakenOnce) {
    InstallSignalHandlers();
    EXPECT_FALSE(TakeReloadRequest());
    std::raise(SIGHUP);
    EXPECT_TRUE(TakeReloadRequest());
    EXPECT_FALSE(TakeReloadRequest());
    std::raise(SIGPIPE);  // ignored: the test process survives
    EXPECT_FALSE(StopRequested());
}

TEST(SignalsTest, FirstStopSignalAsksSecondExits) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        InstallSignalHandlers();
        std::raise(SIGTERM);
        if (!StopRequested())
            _exit(1);
        std::raise(SIGINT);
        _exit(2);  // not reached: the second signal exits with 130
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
}

}  // namespace
}  // namespace snowcdc
