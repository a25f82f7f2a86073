// Storage-backend configuration: [[s3_backends]] tables, TAMS_S3_* variables, local_storage.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "tams/config/config.h"

namespace tams::config {
namespace {

using Env = std::map<std::string, std::string>;

constexpr const char* kIdA = "6f1d7c4e-1b2a-4c3d-8e9f-0a1b2c3d4e5f";
constexpr const char* kIdB = "0c9e8d7f-6a5b-4c3d-9e1f-2a3b4c5d6e7f";
constexpr const char* kSecret = "s3cr3t-Value/with+chars";

class ConfigS3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tams_s3cfg.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& content, const std::string& name) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  Config load_file(const std::string& toml, const Env& env = {}) {
    FlagOverrides flags;
    flags.config_file = write(toml, "tams.toml");
    return load(flags, env);
  }
  // The one-line ConfigError of loading `toml`; fails when it loads, or when the message
  // shows the secret.
  std::string error_of(const std::string& toml, const Env& env = {}) {
    try {
      toml.empty() ? load({}, env) : load_file(toml, env);
    } catch (const ConfigError& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      EXPECT_EQ(m.find(kSecret), std::string::npos) << "secret echoed: " << m;
      return m;
    }
    ADD_FAILURE() << "no ConfigError for:\n" << toml;
    return "";
  }

  std::string backend(const std::string& id, const std::string& extra = "") {
    return "[[s3_backends]]\nid = \"" + id +
           "\"\nendpoints = [\"http://127.0.0.1:7480\"]\nbucket = \"media-a\"\n"
           "access_key_id = \"AK\"\nsecret_access_key_env = \"MY_SK\"\n" + extra;
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigS3Test, NoBackendsByDefault) {
  const Config c = load({}, {});
  EXPECT_TRUE(c.s3_backends.empty());
  EXPECT_EQ(c.local_storage, "default");
}

TEST_F(ConfigS3Test, TwoBackendsFromTheFile) {
  const std::string key_file = write(std::string(kSecret) + "\n", "sk");
  const Config c = load_file(
      "local_storage = \"secondary\"\n"
      "[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nlabel = \"aws\"\n"
      "endpoints = [\"https://s3.eu-west-1.amazonaws.com\"]\nregion = \"eu-west-1\"\n"
      "availability_zone = \"euw1-az1\"\nbucket = \"tams-media\"\npath_style = false\n"
      "provider = \"Amazon Web Services\"\nstore_product = \"Amazon S3\"\ndefault = true\n"
      "access_key_id_env = \"MY_AK\"\nsecret_access_key_file = \"" + key_file + "\"\n"
      "timeout_ms = 3000\nhealth_check_ms = 1000\n"
      "[[s3_backends]]\nid = \"" + std::string(kIdB) + "\"\n"
      "endpoints = [\"http://gw1:7480\", \"http://gw2:7480/prefix/\"]\nbucket = \"archive.b\"\n"
      "access_key_id = \"AK2\"\nsecret_access_key_env = \"MY_SK\"\n",
      {{"MY_AK", "AKIA1"}, {"MY_SK", "other"}});
  ASSERT_EQ(c.s3_backends.size(), 2u);
  const auto& a = c.s3_backends[0];
  EXPECT_EQ(a.id, kIdA);
  EXPECT_EQ(a.label, "aws");
  EXPECT_EQ(a.endpoints, std::vector<std::string>{"https://s3.eu-west-1.amazonaws.com"});
  EXPECT_EQ(a.region, "eu-west-1");
  EXPECT_EQ(a.availability_zone, "euw1-az1");
  EXPECT_EQ(a.bucket, "tams-media");
  EXPECT_FALSE(a.path_style);
  EXPECT_EQ(a.provider, "Amazon Web Services");
  EXPECT_EQ(a.store_product, "Amazon S3");
  EXPECT_TRUE(a.default_storage);
  EXPECT_EQ(a.access_key_id, "AKIA1");
  EXPECT_EQ(a.secret_access_key, kSecret) << "read from the file, trailing newline dropped";
  EXPECT_EQ(a.timeout_ms, 3000);
  EXPECT_EQ(a.health_check_ms, 1000);
  const auto& b = c.s3_backends[1];
  EXPECT_EQ(b.label, "archive.b") << "the label defaults to the bucket";
  EXPECT_EQ(b.endpoints.size(), 2u);
  EXPECT_TRUE(b.path_style);
  EXPECT_EQ(b.region, "us-east-1");
  EXPECT_EQ(b.provider, "S3-compatible");
  EXPECT_FALSE(b.default_storage);
  EXPECT_EQ(b.secret_access_key, "other");
  EXPECT_EQ(c.local_storage, "secondary");
}

TEST_F(ConfigS3Test, OneBackendFromTheEnvironment) {
  const Config c = load({}, {{"TAMS_S3_ID", kIdA},
                             {"TAMS_S3_ENDPOINTS", "http://a:9000, http://b:9000"},
                             {"TAMS_S3_BUCKET", "media"},
                             {"TAMS_S3_ACCESS_KEY_ID", "AK"},
                             {"TAMS_S3_SECRET_ACCESS_KEY", kSecret},
                             {"TAMS_S3_PATH_STYLE", "false"},
                             {"TAMS_S3_DEFAULT", "true"}});
  ASSERT_EQ(c.s3_backends.size(), 1u);
  EXPECT_EQ(c.s3_backends[0].endpoints, (std::vector<std::string>{"http://a:9000", "http://b:9000"}));
  EXPECT_EQ(c.s3_backends[0].secret_access_key, kSecret);
  EXPECT_FALSE(c.s3_backends[0].path_style);
  EXPECT_EQ(c.local_storage, "secondary") << "an S3 default makes the local store secondary";
}

TEST_F(ConfigS3Test, EnvironmentBackendAddsToTheFile) {
  const Config c = load_file(backend(kIdA), {{"MY_SK", "x"},
                                             {"TAMS_S3_ID", kIdB},
                                             {"TAMS_S3_ENDPOINTS", "http://b:9000"},
                                             {"TAMS_S3_BUCKET", "media-b"},
                                             {"TAMS_S3_ACCESS_KEY_ID", "AK"},
                                             {"TAMS_S3_SECRET_ACCESS_KEY", "y"}});
  ASSERT_EQ(c.s3_backends.size(), 2u);
  EXPECT_EQ(c.s3_backends[1].id, kIdB);
  EXPECT_EQ(c.local_storage, "default");
}

TEST_F(ConfigS3Test, LocalStorageRules) {
  EXPECT_EQ(load_file("local_storage = \"disabled\"\n" + backend(kIdA, "default = true\n"),
                      {{"MY_SK", "x"}}).local_storage, "disabled");
  EXPECT_NE(error_of("local_storage = \"default\"\n" + backend(kIdA, "default = true\n"),
                     {{"MY_SK", "x"}}).find("local_storage"), std::string::npos);
  EXPECT_NE(error_of("local_storage = \"disabled\"\n").find("no S3 backend"), std::string::npos);
  EXPECT_NE(error_of("local_storage = \"off\"\n").find("local_storage: expected default, secondary or disabled"),
            std::string::npos);
}

TEST_F(ConfigS3Test, ErrorsNameTheKey) {
  const Env env{{"MY_SK", kSecret}};
  struct Case {
    std::string toml;
    std::string expected;
  };
  const std::string no_id = "[[s3_backends]]\nendpoints = [\"http://h\"]\nbucket = \"bbb\"\n"
                            "access_key_id = \"AK\"\nsecret_access_key_env = \"MY_SK\"\n";
  const Case cases[] = {
      {no_id, "s3_backends[1].id: required"},
      {backend("6F1D7C4E-1B2A-4C3D-8E9F-0A1B2C3D4E5F"), "s3_backends[1].id: required: a stable lowercase UUID"},
      {backend(kIdA, "bucket2 = \"x\"\n"), "s3_backends[1].bucket2: unknown key"},
      {backend(kIdA) + backend(kIdA), "the id " + std::string(kIdA) + " is used by two backends"},
      {backend(kIdA, "default = true\n") + backend(kIdB, "default = true\n"), "more than one backend"},
      {backend(kIdA, "path_style = \"yes\"\n"), "s3_backends[1].path_style: expected true or false"},
      {backend(kIdA, "timeout_ms = 5\n"), "s3_backends[1].timeout_ms: expected an integer from 100"},
      {backend(kIdA, "region = \"\"\n"), "s3_backends[1].region: must not be empty"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"Bad_Bucket\"\n",
       "s3_backends[1].bucket: required: 3 to 63"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\n",
       "s3_backends[1].endpoints: required"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\nendpoints = [\"ftp://h\"]\n",
       "s3_backends[1].endpoints: expected http(s)://"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\nendpoints = [\"http://u:" +
           std::string(kSecret) + "@h\"]\n",
       "s3_backends[1].endpoints: must not contain user information"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\nendpoints = [\"http://h:port\"]\n",
       "s3_backends[1].endpoints: expected http(s)://"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\nendpoints = \"http://h\"\n"
       "access_key_id = \"AK\"\nsecret_access_key = \"" + std::string(kSecret) + "\"\n",
       "s3_backends[1].secret_access_key: secrets are not written in the file"},
      {backend(kIdA, "secret_access_key_file = \"/nonexistent\"\n"),
       "s3_backends[1].secret_access_key: give exactly one of"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\nendpoints = \"http://h\"\n"
       "access_key_id = \"AK\"\nsecret_access_key_env = \"UNSET_VAR\"\n",
       "s3_backends[1].secret_access_key_env: the variable UNSET_VAR is not set"},
      {"[[s3_backends]]\nid = \"" + std::string(kIdA) + "\"\nbucket = \"bbb\"\nendpoints = \"http://h\"\n"
       "access_key_id = \"AK\"\nsecret_access_key_file = \"/nonexistent/sk\"\n",
       "s3_backends[1].secret_access_key_file: cannot read /nonexistent/sk"},
      {"s3_backends = 5\n", "s3_backends: expected an array of tables"},
      {"s3_backends = [5]\n", "s3_backends[1]: expected a table"},
  };
  for (const auto& c : cases) {
    const std::string m = error_of(c.toml, env);
    EXPECT_NE(m.find(c.expected), std::string::npos) << "got: " << m << "\nwanted: " << c.expected;
  }
}

TEST_F(ConfigS3Test, EnvironmentErrorsNameTheVariable) {
  EXPECT_NE(error_of("", {{"TAMS_S3_BUCKET", "media"}}).find("TAMS_S3_ID: required"), std::string::npos);
  EXPECT_NE(error_of("", {{"TAMS_S3_ID", kIdA}, {"TAMS_S3_BUCKET", "media"}, {"TAMS_S3_ENDPOINTS", "http://h"},
                          {"TAMS_S3_ACCESS_KEY_ID", "AK"}})
                .find("TAMS_S3_SECRET_ACCESS_KEY: give exactly one of"),
            std::string::npos);
  EXPECT_NE(error_of("", {{"TAMS_S3_ID", kIdA}, {"TAMS_S3_BUCKET", "media"}, {"TAMS_S3_ENDPOINTS", "http://h"},
                          {"TAMS_S3_ACCESS_KEY_ID", "AK"}, {"TAMS_S3_SECRET_ACCESS_KEY", kSecret},
                          {"TAMS_S3_DEFAULT", "yes"}})
                .find("TAMS_S3_DEFAULT: expected true or false"),
            std::string::npos);
}

}  // namespace
}  // namespace tams::config
