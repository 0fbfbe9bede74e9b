"""Mail exchange exercises: send (with reply), dig, matrix. The clients run inside the PCs."""
