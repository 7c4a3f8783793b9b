"""Workflows, activities, exercises and solutions for each lesson. One package per notebook."""
