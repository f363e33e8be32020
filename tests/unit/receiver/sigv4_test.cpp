// SigV4 against the worked example of AWS's S3 documentation ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk", GET Object with a Range),
// the encoding rules it spells out, and the canonical form's sorting and trimming.

#include "storage/s3/sigv4.hpp"

#include <gtest/gtest.h>

namespace pgship::receiver::s3 {
namespace {

std::chrono::system_clock::time_point may_24_2013() {
  return std::chrono::system_clock::from_time_t(1369353600);  // 2013-05-24T00:00:00Z
}

const credentials example{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                          "us-east-1", "s3"};
constexpr const char* empty_sha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(SigV4, AwsDocumentationGetObjectExample) {
  EXPECT_EQ(amz_date(may_24_2013()), "20130524T000000Z");
  signable req{"GET",
               "/test.txt",
               {},
               {{"Host", "examplebucket.s3.amazonaws.com"},
                {"Range", "bytes=0-9"},
                {"x-amz-content-sha256", empty_sha},
                {"x-amz-date", "20130524T000000Z"}},
               empty_sha};
  std::string signed_headers;
  EXPECT_EQ(canonical_request(req, signed_headers),
            std::string("GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                        "x-amz-content-sha256:") +
                empty_sha +
                "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;"
                "x-amz-date\n" +
                empty_sha);
  EXPECT_EQ(authorization(req, example, may_24_2013()),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  // Any change to what is signed changes the signature.
  req.headers[1].second = "bytes=0-10";
  EXPECT_EQ(authorization(req, example, may_24_2013()).find("f0e8bdb87c96"), std::string::npos);
}

TEST(SigV4, EncodingSortingAndTrimmingFollowTheCanonicalForm) {
  EXPECT_EQ(uri_encode("a b/c~d_e.f-g+h=i", true), "a%20b/c~d_e.f-g%2Bh%3Di");
  EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
  EXPECT_EQ(uri_encode("\xc3\xa9", false), "%C3%A9");
  signable req{
      "GET",
      "/bucket",
      {{"prefix", "db/app "}, {"list-type", "2"}, {"continuation-token", "x/y=="}},
      {{"X-Amz-Date", "20130524T000000Z"}, {"host", "  127.0.0.1:8080  "}, {"X-Custom", "a   b"}},
      "UNSIGNED-PAYLOAD"};
  std::string signed_headers;
  const auto c = canonical_request(req, signed_headers);
  EXPECT_NE(c.find("\ncontinuation-token=x%2Fy%3D%3D&list-type=2&prefix=db%2Fapp%20\n"),
            std::string::npos)
      << c;
  EXPECT_NE(c.find("host:127.0.0.1:8080\nx-amz-date:20130524T000000Z\nx-custom:a b\n"),
            std::string::npos)
      << c;
  EXPECT_EQ(signed_headers, "host;x-amz-date;x-custom");
}

}  // namespace
}  // namespace pgship::receiver::s3
