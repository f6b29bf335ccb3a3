// snowcdc-shipper entry point (placeholder until the shipper core lands).
#include <cstdio>

namespace snowcdc {
const char *Version();
}

int main() {
    std::printf("snowcdc-shipper %s\n", snowcdc::Version());
    return 0;
}
