// A progress line for long work (import, export, commit), on a terminal only: quiet otherwise.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace sbx::core {

class Progress {
 public:
  explicit Progress(std::string step);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void add(uint64_t bytes);

 private:
  void draw(bool final);
  std::string step_;
  uint64_t bytes_ = 0;
  bool tty_ = false, shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace sbx::core
