// The shipper's version string, one place.
namespace snowcdc {
const char *Version() {
    return SNOWCDC_VERSION;
}
}  // namespace snowcdc
